/**
 * The shell hooks from `traced hook bash|zsh|fish`, typed into real interactive
 * shells on a PTY beside the hooks people already have: pyenv's and direnv's
 * PROMPT_COMMAND lines, a PROMPT_COMMAND array, a DEBUG trap, bash-preexec
 * (atuin, starship), another zsh precmd and another fish postexec. For each:
 * nothing is printed on the terminal, the other hooks still run, and the spool
 * holds exactly one record per command with its start and end inside the
 * window the test typed it in, its exit code (a pipeline's last), cwd and text.
 *
 * bash-preexec is not packaged in Debian 12, and nothing fetched from outside
 * the registries is committed: BASH_PREEXEC below is a test-local stand-in that
 * implements its documented interface (bash_preexec_imported, preexec_functions
 * called with the typed line once per command, precmd_functions called before
 * each prompt with the command's $?, its own DEBUG trap and PROMPT_COMMAND).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hookSnippet } from '../../src/capture/terminal.js';
import { tempDir } from '../helpers/env.js';
import { BROKEN, bashArrays, drive, expectExact, present } from './hook-pty.js';

const BASH_PREEXEC = `
bash_preexec_imported=defined
preexec_functions=() precmd_functions=()
__bp_interactive= __bp_ret=0
__bp_set_ret() { return "$1"; }
__bp_precmd() {
  __bp_ret=$?
  local f
  for f in "\${precmd_functions[@]}"; do __bp_set_ret "$__bp_ret"; "$f"; done
  __bp_interactive=1
}
__bp_preexec() {
  [[ -n $__bp_interactive && $BASH_COMMAND != __bp_precmd ]] || return 0
  __bp_interactive=
  local line f
  line=$(HISTTIMEFORMAT= builtin history 1)
  line=\${line#*[0-9][* ] }
  for f in "\${preexec_functions[@]}"; do "$f" "$line"; done
}
trap '__bp_preexec' DEBUG
PROMPT_COMMAND=__bp_precmd
`;

const MULTI = `echo "two\nlines 'q'" >/dev/null`;
/** Typed into bash and zsh: a success, a subshell failing with 3, a pipeline whose last part fails, two lines, a duration, an empty line. */
const POSIXISH = ['true', '(exit 3)', 'true | (exit 5)', MULTI, 'sleep 0.3', ''];
const POSIXISH_WANT: [string, number][] = [
  ['true', 0],
  ['(exit 3)', 3],
  ['true | (exit 5)', 5],
  [MULTI, 0],
  ['sleep 0.3', 0],
];
const SHOW_ARRAY = `echo "n=\${#PROMPT_COMMAND[@]} [\${PROMPT_COMMAND[*]}]"`;
const SHOW_BP = `echo "[$PROMPT_COMMAND] [\${precmd_functions[*]}] [\${preexec_functions[*]}]"`;
const mark = (what: string) => (marker: string) => `echo ${what} >> ${marker}`;

describe.skipIf(!present.bash)('bash hook beside other prompt hooks', () => {
  it("pyenv's PROMPT_COMMAND ending in ';', with ignoreboth and set -u: exact records, no error, pyenv's hook still runs", async () => {
    const run = await drive(
      'bash',
      (hook, m) => `PS1='READY> '; set -u; HISTCONTROL=ignoreboth
_pyenv_virtualenv_hook() { local ret=$?; ${mark('pyenv')(m)}; return $ret; }
PROMPT_COMMAND="_pyenv_virtualenv_hook;"
source ${hook}
`,
      [...POSIXISH, 'true', ' echo private-line'],
    );
    // The repeat is recorded although ignoredups keeps it out of history; the line starting with a space is not.
    expectExact(run, 'bash', [...POSIXISH_WANT, ['true', 0]]);
    expect(fs.readFileSync(path.join(path.dirname(run.dir), 'marker'), 'utf8')).toMatch(/^(pyenv\n){9,}$/);
  });

  it("direnv's line, run after ours, prepends to PROMPT_COMMAND: its hook runs and the records stay exact", async () => {
    const run = await drive(
      'bash',
      (hook, m) => `PS1='READY> '
source ${hook}
_direnv_hook() { local previous_exit_status=$?; ${mark('direnv')(m)}; return $previous_exit_status; }
PROMPT_COMMAND="_direnv_hook\${PROMPT_COMMAND:+;$PROMPT_COMMAND}"
`,
      POSIXISH,
    );
    expectExact(run, 'bash', POSIXISH_WANT);
  });

  it.skipIf(!bashArrays)('a PROMPT_COMMAND array (bash >= 5.1) keeps its elements and gains ours', async () => {
    const run = await drive(
      'bash',
      (hook, m) => `PS1='READY> '; set -u
first() { ${mark('a')(m)}; }
second() { :; }
PROMPT_COMMAND=(first 'second;')
source ${hook}
`,
      [...POSIXISH, SHOW_ARRAY],
    );
    expectExact(run, 'bash', [...POSIXISH_WANT, [SHOW_ARRAY, 0]]);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a bash parameter expansion, as the shell prints it
    expect(run.output).toContain('n=3 [${__traced_on+__traced_prompt} && : first second;]');
  });

  it('an existing DEBUG trap stays as it was and still runs', async () => {
    const run = await drive(
      'bash',
      (hook, m) => `PS1='READY> '
trap 'echo "dbg $BASH_COMMAND" >> ${m}.debug' DEBUG
prompt_hook() { ${mark('p')(m)}; }
PROMPT_COMMAND=prompt_hook
source ${hook}
`,
      [...POSIXISH, 'trap -p DEBUG'],
    );
    expectExact(run, 'bash', [...POSIXISH_WANT, ['trap -p DEBUG', 0]]);
    expect(run.output).toMatch(/trap -- 'echo "dbg \$BASH_COMMAND" >> \S*marker\.debug' DEBUG\r\n/);
    expect(fs.readFileSync(path.join(path.dirname(run.dir), 'marker.debug'), 'utf8')).toContain('dbg sleep 0.3');
  });

  it("with bash-preexec loaded it joins preexec_functions/precmd_functions: atuin-style hooks still run, the trap and PROMPT_COMMAND are bash-preexec's", async () => {
    const run = await drive(
      'bash',
      (hook, m) => `PS1='READY> '
${BASH_PREEXEC}
_atuin_preexec() { echo "pre $1" >> ${m}.pre; }
_atuin_precmd() { ${mark('post')(m)}; return 9; }
preexec_functions+=(_atuin_preexec)
precmd_functions+=(_atuin_precmd)
source ${hook}
`,
      [...POSIXISH, SHOW_BP],
    );
    expectExact(run, 'bash', [...POSIXISH_WANT, [SHOW_BP, 0]]);
    expect(run.output).toContain('[__bp_precmd] [_atuin_precmd __traced_precmd] [_atuin_preexec __traced_preexec]');
    expect(fs.readFileSync(path.join(path.dirname(run.dir), 'marker.pre'), 'utf8')).toContain('pre sleep 0.3\n');
  });

  it('sourced twice, it records each command once; under set -e the shell survives every prompt', async () => {
    const run = await drive(
      'bash',
      (hook, m) => `PS1='READY> '; set -e
h() { ${mark('h')(m)}; }
PROMPT_COMMAND='h'
source ${hook}
source ${hook}
`,
      ['true', 'echo "two\nlines" >/dev/null', 'sleep 0.3', ''],
    );
    expectExact(run, 'bash', [
      ['true', 0],
      ['echo "two\nlines" >/dev/null', 0],
      ['sleep 0.3', 0],
    ]);
  });

  it('prints nothing when the spool cannot be written (no data folder yet)', async () => {
    const run = await drive(
      'bash',
      (hook, m) => `PS1='READY> '; set -u
p() { ${mark('p')(m)}; }
PROMPT_COMMAND=p
source ${hook}
`,
      ['true', '(exit 3)'],
      '/nonexistent/traced-data',
    );
    const plain = run.output.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    expect(plain).not.toMatch(BROKEN);
    expect(run.records).toEqual([]);
  });
});

describe.skipIf(!present.zsh)('zsh hook beside another precmd hook', () => {
  it('add-zsh-hook: exact records, the other precmd still runs, a space-prefixed line stays out, sourced twice records once', async () => {
    const run = await drive(
      'zsh',
      (hook, m) => `PROMPT='READY> '
setopt nounset hist_ignore_space
autoload -Uz add-zsh-hook
_other_precmd() { ${mark('z')(m)}; return 7; }
add-zsh-hook precmd _other_precmd
source ${hook}
source ${hook}
`,
      [...POSIXISH, ' echo private-line'],
    );
    expectExact(run, 'zsh', POSIXISH_WANT);
  });
});

describe.skipIf(!present.fish)('fish hook beside another postexec handler', () => {
  it('fish_postexec: exact records, the other handler still runs, sourced twice records once', async () => {
    const fishMulti = `echo "two\nlines 'q'" >/dev/null`;
    const run = await drive(
      'fish',
      (hook, m) => `function fish_prompt; echo -n 'READY> '; end
function _other --on-event fish_postexec; ${mark('f')(m)}; false; end
source ${hook}
source ${hook}
`,
      ['true', "sh -c 'exit 3'", "true | sh -c 'exit 5'", fishMulti, 'sleep 0.3', ' echo private-line'],
    );
    expectExact(run, 'fish', [
      ['true', 0],
      ["sh -c 'exit 3'", 3],
      ["true | sh -c 'exit 5'", 5],
      [fishMulti, 0],
      ['sleep 0.3', 0],
    ]);
  });
});

describe('inside traced shell, each hook names the recorded stream ($TRACED_SHELL), so its commands link to that output', () => {
  for (const shell of ['bash', 'zsh', 'fish'] as const) {
    it.skipIf(!present[shell])(`${shell}: records carry the stream; a malformed value is left out, the record kept`, async () => {
      // A prompt, the variable traced shell sets, the hook, and a hook of the test's after each command (drive waits for it).
      const rc = (v: string | undefined) => (hook: string, m: string) =>
        shell === 'fish'
          ? `function fish_prompt; echo -n 'READY> '; end\n${v ? `set -gx TRACED_SHELL '${v}'\n` : ''}source ${hook}\nfunction _m --on-event fish_postexec; ${mark('f')(m)}; end\n`
          : shell === 'zsh'
            ? `PROMPT='READY> '\n${v ? `export TRACED_SHELL='${v}'\n` : ''}source ${hook}\nautoload -Uz add-zsh-hook\n_m() { ${mark('z')(m)}; }\nadd-zsh-hook precmd _m\n`
            : `PS1='READY> '\n${v ? `export TRACED_SHELL='${v}'\n` : ''}source ${hook}\nPROMPT_COMMAND="\${PROMPT_COMMAND:+$PROMPT_COMMAND;}${mark('b')(m)}"\n`;
      const good = await drive(shell, rc('4242-kq3x9'), ['true', shell === 'fish' ? "sh -c 'exit 3'" : '(exit 3)']);
      expect(good.records.map((r) => [r.command.replace("sh -c 'exit 3'", '(exit 3)'), r.exit_code, r.shell, r.stream])).toEqual([
        ['true', 0, shell, '4242-kq3x9'],
        ['(exit 3)', 3, shell, '4242-kq3x9'],
      ]);
      const odd = await drive(shell, rc('NOT A STREAM/..'), ['true']);
      expect(odd.records.map((r) => [r.command, r.shell, r.stream])).toEqual([['true', shell, undefined]]);
      const none = await drive(shell, rc(undefined), ['true']);
      expect(none.records.map((r) => [r.command, r.shell, r.stream])).toEqual([['true', shell, undefined]]);
    });
  }
});

describe('the spool path reaches each shell unchanged, whatever its characters', () => {
  const shells = (['bash', 'zsh', 'fish'] as const).filter((s) => present[s]);
  it.each(shells)('%s', (shell) => {
    const base = tempDir('thq-');
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', ' ', "'", '"', '$', '`', '\\', '\n', ';', '(', '*', 'é'), minLength: 1, maxLength: 12 }), (name) => {
        const spool = path.join(base, name, 'terminal.spool');
        const file = path.join(base, 'snippet');
        fs.writeFileSync(file, hookSnippet(shell, spool));
        const script = shell === 'fish' ? `source ${file}; printf %s $__traced_spool` : `source ${file}; printf %s "$__traced_spool"`;
        const r = spawnSync(shell, shell === 'fish' ? ['--no-config', '-c', script] : shell === 'zsh' ? ['-f', '-c', script] : ['--norc', '-c', script], {
          encoding: 'utf8',
          env: { PATH: process.env.PATH, HOME: base },
        });
        expect(r.stderr).toBe('');
        expect(r.stdout).toBe(spool);
      }),
      { numRuns: 25 },
    );
  });
});
