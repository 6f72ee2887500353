#!/bin/bash
# Rough repros that need a daemon + session. Fresh homes; stops its daemon at the end.
export TRACED_HOME=$(mktemp -d) HOME=$(mktemp -d)
t(){ /work/wt-atk2/node_modules/node/bin/node /work/wt-atk2/bin/traced.js "$@"; echo "[rc=$?]"; }
P=$(mktemp -d); (cd $P && git init -q . && t start --label atk)
# 1. HIGH: export -o onto a device node on another fs: libuv copyfile fails and UNLINKS the destination.
#    (as root, `traced export last --target json -o /dev/null` deleted /dev/null on this box)
D=$(mktemp -d -p /dev/shm); mknod -m 666 $D/null c 1 3 && ls -la $D/null
t export last --target json -o $D/null      # TRACED_INTERNAL: EINVAL ... copyfile
ls -la $D/null                               # gone
rm -rf $D
# 2. raw Node error text / TRACED_INTERNAL for -o under a file
F=$(mktemp); t export last --target json -o $F/x.json   # TRACED_INTERNAL: EEXIST mkdir
# 3. -o silently overwrites an existing file; creates missing parents
echo precious > /tmp/atk-precious; t export last --target json -o /tmp/atk-precious; head -c 40 /tmp/atk-precious; echo
# 4. ranges since > until accepted silently ("No sessions yet" although one is recording)
t sessions --since 1h --until 2h; t search foo --since 1h --until 2h; t what-happened --since 1h --until 2h
t call list_sessions '{"since":"1h","until":"2h"}'
# 5. time args answered with TRACED_INVALID_PARAMS, not TRACED_INVALID_TIME
t call replay_at '{"session":"last","at":-5}'; t call what_happened '{"last":"14:32"}'
t call get_timeline '{"session":"last","from_ms":5000,"to_ms":1000}'; t call get_timeline '{"session":"last","from_ms":"+1:30"}'
# 6. clock-looking offsets / future moments on a running session accepted silently
t timeline last --from 1:00        # read as 01:00 next day -> "No events in that range."
t replay last --at +300d            # 300 days into a session that is seconds old: rc 0
t daemon stop --force
