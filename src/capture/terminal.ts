/**
 * The terminal channel. `traced hook bash|zsh|fish` prints a snippet for the
 * shell's rc file; after each command the shell appends one record to a spool
 * file with its own builtins — no Node process per command, and nothing lost
 * while the daemon is down. The daemon reads the spool (now and whenever it
 * grows), puts each command in the session whose time it falls in, redacted
 * like everything else.
 *
 * Record: start_ms US end_ms US exit US cwd US shell US command RS
 * (US = \x1f, RS = \x1e: characters a command line does not contain).
 */
import fs from 'node:fs';
import path from 'node:path';

export const SPOOL_FILE = 'terminal.spool';
const US = '\x1f';
const RS = '\x1e';

export interface TerminalRecord {
  start_ms: number;
  end_ms: number;
  exit_code: number;
  cwd: string;
  shell: string;
  command: string;
}

/** The snippet for `eval "$(traced hook <shell>)"`; `spool` is the absolute spool path. */
export function hookSnippet(shell: 'bash' | 'zsh' | 'fish', spool: string): string {
  const q = `'${spool.replace(/'/g, `'\\''`)}'`;
  if (shell === 'bash') {
    return `# traced: report each command (cwd, exit code, duration) to ${spool}
# Needs bash >= 5 ($EPOCHREALTIME). Builtins only: no process per command.
__traced_spool=${q}
__traced_start=
__traced_ready=
__traced_preexec() {
  [ -n "$__traced_ready" ] || return 0
  __traced_ready=
  __traced_start=\${EPOCHREALTIME/./}
}
__traced_precmd() {
  local ec=$?
  if [ -n "$__traced_start" ]; then
    local end=\${EPOCHREALTIME/./} cmd
    cmd=$(HISTTIMEFORMAT= builtin history 1)
    cmd=\${cmd#"\${cmd%%[![:space:]]*}"}; cmd=\${cmd#*[[:space:]]}; cmd=\${cmd#"\${cmd%%[![:space:]]*}"}
    builtin printf '%s\\037%s\\037%s\\037%s\\037bash\\037%s\\036' "\${__traced_start:0:13}" "\${end:0:13}" "$ec" "$PWD" "$cmd" >> "$__traced_spool" 2>/dev/null
    __traced_start=
  fi
}
__traced_arm() { __traced_ready=1; }
trap '__traced_preexec' DEBUG
PROMPT_COMMAND="__traced_precmd\${PROMPT_COMMAND:+;$PROMPT_COMMAND};__traced_arm"
`;
  }
  if (shell === 'zsh') {
    return `# traced: report each command (cwd, exit code, duration) to ${spool}
zmodload zsh/datetime 2>/dev/null
autoload -Uz add-zsh-hook
typeset -g __traced_spool=${q} __traced_start= __traced_cmd=
__traced_preexec() { __traced_cmd=$1; __traced_start=\${EPOCHREALTIME/./}; }
__traced_precmd() {
  local ec=$?
  [[ -n $__traced_start ]] || return 0
  local end=\${EPOCHREALTIME/./}
  builtin printf '%s\\037%s\\037%s\\037%s\\037zsh\\037%s\\036' "\${__traced_start[1,13]}" "\${end[1,13]}" "$ec" "$PWD" "$__traced_cmd" >> "$__traced_spool" 2>/dev/null
  __traced_start=
}
add-zsh-hook preexec __traced_preexec
add-zsh-hook precmd __traced_precmd
`;
  }
  return `# traced: report each command (cwd, exit code, duration) to ${spool}
set -g __traced_spool ${q}
function __traced_postexec --on-event fish_postexec
  set -l ec $status
  set -l end (date +%s%3N)
  printf '%s\\037%s\\037%s\\037%s\\037fish\\037%s\\036' (math $end - $CMD_DURATION) $end $ec $PWD "$argv" >> $__traced_spool 2>/dev/null
end
`;
}

export function parseSpool(text: string): { records: TerminalRecord[]; rest: string } {
  const parts = text.split(RS);
  const rest = parts.pop() ?? '';
  const records: TerminalRecord[] = [];
  for (const p of parts) {
    const f = p.split(US);
    if (f.length < 6) continue;
    const [start, end, exit, cwd, shell, ...cmd] = f;
    const r: TerminalRecord = {
      start_ms: Number(start),
      end_ms: Number(end),
      exit_code: Number(exit),
      cwd: cwd ?? '',
      shell: shell ?? '',
      command: cmd.join(US).trim(),
    };
    if (!Number.isFinite(r.start_ms) || !Number.isFinite(r.end_ms) || !r.command) continue;
    records.push(r);
  }
  return { records, rest };
}

/**
 * Takes what the shells wrote so far: the spool is renamed first (a shell
 * appending meanwhile creates a new one), then read whole. A torn last record
 * goes back to the front of the new spool.
 */
export function drainSpool(dir: string): TerminalRecord[] {
  const spool = path.join(dir, SPOOL_FILE);
  const taking = path.join(dir, `${SPOOL_FILE}.${process.pid}.taking`);
  const out: TerminalRecord[] = [];
  // A previous drain interrupted by a crash left its file: read it first.
  for (const f of fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.startsWith(`${SPOOL_FILE}.`) && n.endsWith('.taking')) : []) {
    out.push(...parseSpool(fs.readFileSync(path.join(dir, f), 'utf8')).records);
    fs.rmSync(path.join(dir, f), { force: true });
  }
  try {
    fs.renameSync(spool, taking);
  } catch {
    return out; // nothing written since the last drain
  }
  const { records, rest } = parseSpool(fs.readFileSync(taking, 'utf8'));
  if (rest.trim()) fs.appendFileSync(spool, rest, { mode: 0o600 });
  fs.rmSync(taking, { force: true });
  return [...out, ...records];
}
