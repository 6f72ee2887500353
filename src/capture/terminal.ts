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
 * Record: start_ms US end_ms US exit US cwd US shell US command RS
 * (US = \x1f, RS = \x1e: characters a command line does not contain).
 */
import fs from 'node:fs';
import path from 'node:path';

export const SPOOL_FILE = 'terminal.spool';
/** Bash reads its last history entry through `terminal.cmd.<pid>` beside the spool (no subshell); emptied at once. */
const SCRATCH = /^terminal\.cmd\.(\d+)$/;
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

// The snippets are shell code kept verbatim: '@SPOOL@' is the one place a value goes in.
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
__traced_start=\${__traced_start-} __traced_line=\${__traced_line-} __traced_n=\${__traced_n-} __traced_dedup=\${__traced_dedup-}
# Expands to nothing; evaluating the subscript stores the time in this shell.
__traced_ps0='\${__traced_z[__traced_start=\${EPOCHREALTIME/[.,]/}]-}'
__traced_setup() {
  [[ \${PS0:-} == *"$__traced_ps0"* ]] || PS0=\${PS0:-}$__traced_ps0
  # ignoredups would hide a repeated command from us: history keeps it, we drop it below.
  if [[ \${HISTCONTROL:-} == *ignoredups* || \${HISTCONTROL:-} == *ignoreboth* ]]; then
    __traced_dedup=1 HISTCONTROL=\${HISTCONTROL//ignoreboth/ignorespace}
    HISTCONTROL=\${HISTCONTROL//ignoredups/}
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
__traced_precmd() {
  local __traced_ec=$? __traced_end=\${EPOCHREALTIME/[.,]/} __traced_pn=$__traced_n __traced_pl=$__traced_line
  if [[ -n $__traced_start ]]; then
    __traced_last
    if [[ $__traced_n != "$__traced_pn" || $__traced_line != "$__traced_pl" ]]; then
      builtin printf '%s\\037%s\\037%s\\037%s\\037bash\\037%s\\036' "\${__traced_start:0:13}" "\${__traced_end:0:13}" \\
        "$__traced_ec" "$PWD" "$__traced_line" 2>/dev/null >>"$__traced_spool" || :
      if [[ -n $__traced_dedup && $__traced_line == "$__traced_pl" && -n $__traced_pn ]]; then
        builtin history -d "$__traced_n" 2>/dev/null || :
        __traced_n=$__traced_pn
      fi
    fi
    __traced_start=
  fi
  __traced_setup
  return $__traced_ec
}
# bash-preexec's DEBUG trap misses subshells: PS0 above is kept, this covers a PS0 that
# someone replaced until the next prompt puts ours back.
__traced_preexec() { [[ -n $__traced_start ]] || __traced_start=\${EPOCHREALTIME/[.,]/}; }
__traced_setup
[[ -n $__traced_n ]] || __traced_last
if [[ -n \${bash_preexec_imported:-}\${__bp_imported:-} ]]; then
  # bash-preexec owns PROMPT_COMMAND and hands each precmd function the command's $?.
  [[ " \${preexec_functions[*]-} " == *" __traced_preexec "* ]] || preexec_functions+=(__traced_preexec)
  [[ " \${precmd_functions[*]-} " == *" __traced_precmd "* ]] || precmd_functions+=(__traced_precmd)
elif [[ -n \${PROMPT_COMMAND+set} && \${PROMPT_COMMAND@a} == *a* ]]; then
  # An array (bash >= 5.1): ours first, to see the command's $? (and hand it on).
  [[ " \${PROMPT_COMMAND[*]} " == *" __traced_precmd "* ]] || PROMPT_COMMAND=(__traced_precmd "\${PROMPT_COMMAND[@]}")
elif [[ \${PROMPT_COMMAND:-} != *__traced_precmd* ]]; then
  # A newline, not ';': the string may end with ';', spaces or a newline of its own.
  PROMPT_COMMAND=__traced_precmd\${PROMPT_COMMAND:+$'\\n'$PROMPT_COMMAND}
fi
fi
`;

const ZSH_HOOK = `# traced: report each command (start, end, exit code, cwd, text) to the spool file below.
# Builtins only: no process and no output per command. Joins the preexec/precmd hooks
# with add-zsh-hook, beside any others.
if zmodload zsh/datetime 2>/dev/null && autoload -Uz add-zsh-hook 2>/dev/null; then
  # Sourced again, it keeps its state; add-zsh-hook adds a function once.
  typeset -g __traced_spool=@SPOOL@ __traced_start=\${__traced_start-} __traced_cmd=\${__traced_cmd-}
  __traced_preexec() {
    # A line history leaves out (hist_ignore_space) is not recorded either.
    if [[ -o hist_ignore_space && $1 == [[:space:]]* ]]; then
      __traced_start=
    else
      __traced_cmd=\${1:-$3} __traced_start=\${EPOCHREALTIME/[.,]/}
    fi
  }
  __traced_precmd() {
    local __traced_ec=$? __traced_end=\${EPOCHREALTIME/[.,]/}
    if [[ -n $__traced_start ]]; then
      builtin printf '%s\\037%s\\037%s\\037%s\\037zsh\\037%s\\036' "\${__traced_start[1,13]}" "\${__traced_end[1,13]}" \\
        "$__traced_ec" "$PWD" "$__traced_cmd" 2>/dev/null >>"$__traced_spool" || :
      __traced_start=
    fi
    return $__traced_ec
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
    # fish leaves a line starting with a space out of its history: so do we.
    if string match -qr '^\\d+$' -- "$start"; and not string match -qr '^\\s' -- "$argv"
        printf '%s\\037%s\\037%s\\037%s\\037fish\\037%s\\036' $start (math "$start + $CMD_DURATION") $ec $PWD "$argv" 2>/dev/null >>$__traced_spool
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
