/**
 * The terminal channel. `traced hook bash|zsh|fish` prints a snippet for the
 * shell's rc file; after each command the shell appends one record to a spool
 * file with its own builtins — no process per command in bash and zsh (fish has
 * no clock builtin: one `date`), and nothing lost while the daemon is down. The
 * snippets join the shell's hooks beside others (bash: PROMPT_COMMAND as a
 * string or an array, or bash-preexec's arrays, and PS0; zsh: add-zsh-hook;
 * fish: an event function) and take no DEBUG trap. The daemon reads the spool (now and whenever it
 * grows), puts each command in the session whose time it falls in, redacted
 * like everything else.
 *
 * Record: start_ms US end_ms US exit US cwd US shell[@stream] US command RS
 * (`@stream`: $TRACED_SHELL, inside a terminal `traced shell` records).
 * (US = \x1f, RS = \x1e). The hooks write a US or RS inside a command or a cwd as
 * U+241F / U+241E, so a typed separator cannot forge or split a record; the parser
 * takes only well-formed records and keeps the good ones around a bad one.
 */
import fs from 'node:fs';
import path from 'node:path';

export const SPOOL_FILE = 'terminal.spool';
/** Bash reads its last history entry through `terminal.cmd.<pid>` beside the spool (no subshell); emptied at once. */
const SCRATCH = /^terminal\.cmd\.(\d+)$/;
const RS = '\x1e';

export interface TerminalRecord {
  start_ms: number;
  end_ms: number;
  exit_code: number;
  cwd: string;
  shell: string;
  command: string;
  /** The `traced shell` stream the command ran in (its output is there), when it ran in one. */
  stream?: string;
}

// The snippets are shell code kept verbatim: '@SPOOL@' is the one place a value goes in.
// Each writes US and RS found in a command or a directory as the visible symbols U+241F and
// U+241E (and zsh a NUL as U+2400): a record cannot be forged or split by what was typed.
const BASH_HOOK = `# traced: report each command (start, end, exit code, cwd, text) to the spool file below.
# Bash >= 5 ($EPOCHREALTIME). Builtins only: no process and no output per command.
# Leaves the DEBUG trap alone and joins PROMPT_COMMAND (string or array) or
# bash-preexec's precmd_functions, so pyenv, direnv, atuin and starship keep working.
# A command's start is taken when PS0 is shown (after the line is read, before it runs:
# subshells included, empty lines and the prompt's own commands not); its text is the
# history entry it made. A line history leaves out (ignorespace, HISTIGNORE, history
# off) is not recorded either.
if [[ \${BASH_VERSINFO[0]:-0} -ge 5 ]]; then
__traced_spool=@SPOOL@
__traced_scratch=\${__traced_spool%/*}/terminal.cmd.$$
# Sourced again (a second eval in an rc file), it keeps its state and adds nothing twice.
__traced_start=\${__traced_start-} __traced_line=\${__traced_line-} __traced_n=\${__traced_n-} __traced_rv=0
__traced_hc=\${__traced_hc-} __traced_hcset=\${__traced_hcset-}
# An array is never exported: a child bash that inherits PROMPT_COMMAND or PS0 from an
# \`export\` but not this hook finds it unset, and our entries there do nothing.
__traced_on=(1)
__traced_x=($'\\x1f' $'\\x1e' $'\\xe2\\x90\\x9f' $'\\xe2\\x90\\x9e')
# Expands to nothing; evaluating the subscript stores the time in this shell.
__traced_ps0='\${__traced_z[\${__traced_on+__traced_start=\${EPOCHREALTIME/[.,]/},}0]-}'
# '&& :' keeps the command's status (for the PROMPT_COMMAND parts after ours) without
# tripping \`set -e\`: a failing command before '&&' does not end the shell.
__traced_pc='\${__traced_on+__traced_prompt} && :'
__traced_setup() {
  [[ \${PS0:-} == *"$__traced_ps0"* ]] || PS0=\${PS0:-}$__traced_ps0
  # ignoredups and erasedups would hide a repeated command from us: history keeps it, and
  # the precmd below drops or erases the copies as they would have. Set again by the user
  # (or by bash-preexec), it is read again.
  if [[ -z $__traced_hcro && \${HISTCONTROL-} != "$__traced_hcset" ]]; then
    __traced_hc=\${HISTCONTROL-} HISTCONTROL=\${HISTCONTROL-}
    HISTCONTROL=\${HISTCONTROL//ignoreboth/ignorespace}
    HISTCONTROL=\${HISTCONTROL//ignoredups/} HISTCONTROL=\${HISTCONTROL//erasedups/}
    __traced_hcset=$HISTCONTROL
  fi
}
# The newest history entry, through a file: $(...) would fork a subshell at every prompt.
__traced_last() {
  __traced_line= __traced_n=
  HISTTIMEFORMAT= builtin history 1 2>/dev/null >"$__traced_scratch" || return 0
  IFS= builtin read -r -d '' __traced_line 2>/dev/null <"$__traced_scratch" || :
  : 2>/dev/null >"$__traced_scratch" || :
  __traced_line=\${__traced_line%$'\\n'}
  __traced_n=\${__traced_line#"\${__traced_line%%[![:space:]]*}"}
  __traced_n=\${__traced_n%%[!0-9]*}
  __traced_line=\${__traced_line#*[0-9][* ] }
}
# Returns 0 (bash-preexec calls it bare; under set -e a failure would end the shell); the
# command's status is left in __traced_rv for __traced_prompt.
__traced_precmd() {
  local __traced_ec=$? __traced_end=\${EPOCHREALTIME/[.,]/} __traced_pn=$__traced_n __traced_pl=$__traced_line __traced_c __traced_d __traced_st
  __traced_rv=$__traced_ec
  # PS0 ran (a start time) and history gained an entry (number or text changed): a command ran.
  if [[ -n $__traced_start ]]; then
    __traced_last
    if [[ $__traced_n != "$__traced_pn" || $__traced_line != "$__traced_pl" ]]; then
      __traced_c=\${__traced_line//"\${__traced_x[0]}"/\${__traced_x[2]}} __traced_d=\${PWD//"\${__traced_x[0]}"/\${__traced_x[2]}}
      __traced_c=\${__traced_c//"\${__traced_x[1]}"/\${__traced_x[3]}} __traced_d=\${__traced_d//"\${__traced_x[1]}"/\${__traced_x[3]}}
      # Inside traced shell, the stream it records (its output is there); only a well-formed name.
      __traced_st=
      [[ -n \${TRACED_SHELL-} && \${#TRACED_SHELL} -le 40 && $TRACED_SHELL != *[!a-z0-9-]* ]] && __traced_st=@$TRACED_SHELL
      builtin printf '%s\\037%s\\037%s\\037%s\\037bash%s\\037%s\\036' "\${__traced_start:0:13}" "\${__traced_end:0:13}" \\
        "$__traced_ec" "$__traced_d" "$__traced_st" "$__traced_c" 2>/dev/null >>"$__traced_spool" || :
      if [[ $__traced_hc == *ignoredups* || $__traced_hc == *ignoreboth* ]] && [[ $__traced_line == "$__traced_pl" && -n $__traced_pn ]]; then
        builtin history -d "$__traced_n" 2>/dev/null || :
        __traced_n=$__traced_pn
      elif [[ $__traced_hc == *erasedups* ]]; then
        # history -s obeys HISTCONTROL: bash itself erases every copy of this line, then adds
        # it back at the end (ignoredups would stop that: the newest copy is this one).
        HISTCONTROL=erasedups
        builtin history -s -- "$__traced_line" 2>/dev/null || :
        HISTCONTROL=$__traced_hcset
        __traced_last
      fi
    fi
    __traced_start=
  fi
  __traced_setup
  return 0
}
# The PROMPT_COMMAND entry: hands the command's status on to the parts after it.
__traced_prompt() { __traced_precmd; return $__traced_rv; }
# bash-preexec's DEBUG trap misses subshells: PS0 above is kept, this covers a PS0 that
# someone replaced until the next prompt puts ours back.
__traced_preexec() { [[ -n $__traced_start ]] || __traced_start=\${EPOCHREALTIME/[.,]/}; }
# Read-only (declare -r) variables cannot be joined: say so once instead of failing at every prompt.
__traced_ro() { [[ $(builtin declare -p "$1" 2>/dev/null) =~ ^declare\\ -[a-zA-Z]*r ]]; }
__traced_hcro=
__traced_ro HISTCONTROL && __traced_hcro=1
if __traced_ro PS0 || { [[ -z \${bash_preexec_imported:-}\${__bp_imported:-} ]] && __traced_ro PROMPT_COMMAND; }; then
  builtin printf '%s\\n' "traced: PS0 or PROMPT_COMMAND is read-only in this shell: its commands are not recorded" >&2
else
__traced_setup
[[ -n $__traced_n ]] || __traced_last
if [[ -n \${bash_preexec_imported:-}\${__bp_imported:-} ]]; then
  # bash-preexec owns PROMPT_COMMAND and hands each precmd function the command's $?.
  [[ " \${preexec_functions[*]-} " == *" __traced_preexec "* ]] || preexec_functions+=(__traced_preexec)
  [[ " \${precmd_functions[*]-} " == *" __traced_precmd "* ]] || precmd_functions+=(__traced_precmd)
elif [[ -n \${PROMPT_COMMAND+set} && \${PROMPT_COMMAND@a} == *a* ]]; then
  # An array (bash >= 5.1): ours first, to see the command's $? (and hand it on).
  [[ \${PROMPT_COMMAND[*]} == *__traced_pr* ]] || PROMPT_COMMAND=("$__traced_pc" "\${PROMPT_COMMAND[@]}")
elif [[ \${PROMPT_COMMAND:-} != *__traced_pr* ]]; then
  # A newline, not ';': the string may end with ';', spaces or a newline of its own.
  PROMPT_COMMAND=$__traced_pc\${PROMPT_COMMAND:+$'\\n'$PROMPT_COMMAND}
fi
fi
fi
`;

const ZSH_HOOK = `# traced: report each command (start, end, exit code, cwd, text) to the spool file below.
# Builtins only: no process and no output per command. Joins the preexec/precmd hooks
# with add-zsh-hook, beside any others. The functions run under \`emulate -L zsh\`, so
# the user's options (ksh_arrays, err_exit, nounset…) change nothing, and return 0.
if zmodload zsh/datetime 2>/dev/null && autoload -Uz add-zsh-hook 2>/dev/null; then
  # Sourced again, it keeps its state; add-zsh-hook adds a function once.
  typeset -g __traced_spool=@SPOOL@ __traced_start=\${__traced_start-} __traced_cmd=\${__traced_cmd-}
  __traced_preexec() {
    local __traced_o=
    [[ -o hist_ignore_space ]] && __traced_o+=s
    [[ -o extended_glob ]] && __traced_o+=g
    emulate -L zsh
    [[ $__traced_o == *g* ]] && setopt extended_glob
    __traced_start=
    # A line history leaves out (hist_ignore_space) or HISTORY_IGNORE keeps out of the
    # history file is not recorded either.
    [[ $__traced_o == *s* && $1 == [[:space:]]* ]] && return 0
    [[ -n \${HISTORY_IGNORE-} && \${1%$'\\n'} == \${~HISTORY_IGNORE} ]] && return 0
    __traced_cmd=\${1:-$3} __traced_start=$EPOCHREALTIME
    return 0
  }
  __traced_precmd() {
    local __traced_ec=$?
    emulate -L zsh
    local __traced_end=\${EPOCHREALTIME/[.,]/} __traced_s=\${__traced_start/[.,]/} __traced_c=$__traced_cmd __traced_d=$PWD
    __traced_start=
    if [[ -n $__traced_s ]]; then
      __traced_c=\${\${\${__traced_c//$'\\x1f'/$'\\xe2\\x90\\x9f'}//$'\\x1e'/$'\\xe2\\x90\\x9e'}//$'\\0'/$'\\xe2\\x90\\x80'}
      __traced_d=\${\${\${__traced_d//$'\\x1f'/$'\\xe2\\x90\\x9f'}//$'\\x1e'/$'\\xe2\\x90\\x9e'}//$'\\0'/$'\\xe2\\x90\\x80'}
      local __traced_st=
      [[ -n \${TRACED_SHELL-} && \${#TRACED_SHELL} -le 40 && $TRACED_SHELL != *[^a-z0-9-]* ]] && __traced_st=@$TRACED_SHELL
      builtin printf '%s\\037%s\\037%s\\037%s\\037zsh%s\\037%s\\036' "\${__traced_s[1,13]}" "\${__traced_end[1,13]}" \\
        "$__traced_ec" "$__traced_d" "$__traced_st" "$__traced_c" 2>/dev/null >>"$__traced_spool" || :
    fi
    return 0
  }
  add-zsh-hook preexec __traced_preexec
  add-zsh-hook precmd __traced_precmd
fi
`;

const FISH_HOOK = `# traced: report each command (start, end, exit code, cwd, text) to the spool file below.
# Functions on the fish_preexec/fish_postexec events, beside any others. Fish has no
# clock builtin: one \`date\` per command gives the start, and $CMD_DURATION the end.
set -g __traced_spool @SPOOL@
function __traced_preexec --on-event fish_preexec
    set -g __traced_start (command date +%s%3N 2>/dev/null)
    # A date without %N (BSD) prints it as it is: whole seconds then.
    string match -qr '^\\d+$' -- "$__traced_start"; or set -g __traced_start (command date +%s 2>/dev/null)000
end
function __traced_postexec --on-event fish_postexec
    set -l ec $status
    set -l start "$__traced_start"
    set -g __traced_start
    # fish leaves a line starting with a space, and every line in private mode, out of its history: so do we.
    if string match -qr '^\\d+$' -- "$start"; and not string match -qr '^\\s' -- "$argv"; and not set -q fish_private_mode
        set -l c (string replace -a -- \\x1f \\xe2\\x90\\x9f "$argv" | string replace -a -- \\x1e \\xe2\\x90\\x9e | string collect)
        set -l d (string replace -a -- \\x1f \\xe2\\x90\\x9f "$PWD" | string replace -a -- \\x1e \\xe2\\x90\\x9e | string collect)
        # In a recorded terminal (traced shell), the stream it records: its commands link to that output.
        set -l sh fish
        string match -qr '^[a-z0-9-]{1,40}$' -- "$TRACED_SHELL"; and set sh "fish@$TRACED_SHELL"
        printf '%s\\037%s\\037%s\\037%s\\037%s\\037%s\\036' $start (math "$start + $CMD_DURATION") $ec "$d" "$sh" "$c" 2>/dev/null >>$__traced_spool
    end
    return $ec
end
`;

/** A POSIX shell word for `s`: bash and zsh read it back unchanged. */
const shQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
/** Fish's single quotes take `\\` and `\'` as escapes. */
const fishQuote = (s: string): string => `'${s.replace(/[\\']/g, '\\$&')}'`;

/** The snippet for `eval "$(traced hook <shell>)"`; `spool` is the absolute spool path. */
export function hookSnippet(shell: 'bash' | 'zsh' | 'fish', spool: string): string {
  const [text, quoted] = shell === 'bash' ? [BASH_HOOK, shQuote(spool)] : shell === 'zsh' ? [ZSH_HOOK, shQuote(spool)] : [FISH_HOOK, fishQuote(spool)];
  return text.replace('@SPOOL@', () => quoted);
}

/**
 * One record: exactly six fields, times in epoch ms (13 digits), a shell the hooks name.
 * Anchored at the end only: a torn record (a shell killed mid-write) glued in front of
 * the next good one is dropped and the good one kept.
 */
const RECORD = /(\d{13})\x1f(\d{13})\x1f(-?\d{1,10})\x1f([^\x1f]*)\x1f(bash|zsh|fish)(?:@([^\x1f]*))?\x1f([^\x1f]*)$/;
/** A `traced shell` stream name, as the hooks report it from $TRACED_SHELL. */
const STREAM = /^[a-z0-9-]{1,40}$/;

/** The records in `text` (malformed ones skipped) and the unterminated rest. */
export function parseSpool(text: string): { records: TerminalRecord[]; rest: string } {
  const parts = text.split(RS);
  const rest = parts.pop() ?? '';
  const records: TerminalRecord[] = [];
  for (const p of parts) {
    const m = RECORD.exec(p);
    if (!m) continue;
    const [, start, end, exit, cwd = '', shell = '', stream, cmd = ''] = m;
    const command = cmd.replace(/\0/g, '\u2400').trim();
    if (!command) continue;
    const r: TerminalRecord = { start_ms: Number(start), end_ms: Number(end), exit_code: Number(exit), cwd: cwd.replace(/\0/g, '\u2400'), shell, command };
    if (stream && STREAM.test(stream)) r.stream = stream;
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
  removeDeadScratch(dir);
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

/** A bash that has exited leaves its empty scratch file: removed here. */
function removeDeadScratch(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(SCRATCH.exec(name)?.[1] ?? 0);
    if (pid > 0 && !alive(pid)) fs.rmSync(path.join(dir, name), { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // someone else's process, still running
  }
}
