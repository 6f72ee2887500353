#!/bin/bash
# usage: attack/t.sh args...  (fresh TRACED_HOME/HOME unless set)
export TRACED_HOME=${TRACED_HOME:-$(mktemp -d)} HOME=${THOME:-$(mktemp -d)}
/work/wt-atk2/node_modules/node/bin/node /work/wt-atk2/bin/traced.js "$@"
rc=$?; echo "[rc=$rc]" >&2; exit $rc
