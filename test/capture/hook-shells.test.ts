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
import pty from '@lydell/node-pty';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { drainSpool, hookSnippet, type TerminalRecord } from '../../src/capture/terminal.js';
import { tempDir } from '../helpers/env.js';

type Shell = 'bash' | 'zsh' | 'fish';
const has = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const bashVersion = /version (\d+)\.(\d+)/.exec(spawnSync('bash', ['--version'], { encoding: 'utf8' }).stdout ?? '');
const bashMajor = Number(bashVersion?.[1] ?? 0);
const bashArrays = bashMajor > 5 || (bashMajor === 5 && Number(bashVersion?.[2] ?? 0) >= 1);
const present = { bash: bashMajor >= 5, zsh: has('zsh'), fish: has('fish') };
for (const [shell, ok] of Object.entries(present)) {
  if (ok) continue;
  if (process.env.CI === 'true') throw new Error(`CI: ${shell} is needed for the hook tests (apt-get install ${shell}; bash >= 5)`);
  console.warn(`SKIPPED: ${shell} hook tests (${shell} missing, or bash < 5)`);
}

/** What a terminal shows when a hook breaks the prompt. */
const BROKEN =
  /syntax error|unexpected|command not found|unbound variable|parameter not set|bad substitution|no such file|permission denied|bash: |zsh: |fish: /i;

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

interface Typed {
  line: string;
  t0: number;
  t1: number;
}

interface Run {
  output: string;
  typed: Typed[];
  records: TerminalRecord[];
  dir: string;
  cwd: string;
}

/**
 * Starts `shell` interactively on a PTY with `rc` as its startup file, types
 * each line after the previous one has finished (the marker file grew: a hook
 * of the user's that runs per prompt or per command), then hangs up.
 */
async function drive(shell: Shell, rc: (hook: string, marker: string) => string, lines: string[], spoolDir?: string): Promise<Run> {
  const dir = tempDir('thook-');
  const cwd = path.join(dir, `it's a "dir" $HOME`);
  fs.mkdirSync(cwd);
  const data = spoolDir ?? path.join(dir, 'data');
  if (!spoolDir) fs.mkdirSync(data);
  const hook = path.join(dir, 'hook');
  fs.writeFileSync(hook, hookSnippet(shell, path.join(data, 'terminal.spool')));
  const marker = path.join(dir, 'marker');
  fs.writeFileSync(marker, '');
  const rcFile = path.join(dir, shell === 'zsh' ? '.zshrc' : 'rc');
  fs.writeFileSync(rcFile, rc(`'${hook}'`, `'${marker}'`));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    TERM: 'xterm-256color',
    LANG: 'C.UTF-8',
    HISTFILE: path.join(dir, 'history'),
    XDG_CONFIG_HOME: path.join(dir, 'config'),
    XDG_DATA_HOME: path.join(dir, 'share'),
    ZDOTDIR: dir,
  };
  const argv = { bash: ['--rcfile', rcFile, '--noprofile', '-i'], zsh: ['-d', '-i'], fish: ['--no-config', '-i', '-C', `source '${rcFile}'`] }[shell];
  const term = pty.spawn(shell, argv, { cols: 200, rows: 50, cwd, env });
  let output = '';
  term.onData((d) => {
    output += d;
  });
  const exited = new Promise<void>((resolve) => term.onExit(() => resolve()));
  const marks = (): number => fs.readFileSync(marker, 'utf8').split('\n').length - 1;
  const until = async (ok: () => boolean, what: string): Promise<void> => {
    const deadline = Date.now() + 15_000;
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`${shell}: timed out waiting for ${what}; terminal:\n${output}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const typed: Typed[] = [];
  try {
    await until(() => output.includes('READY>'), 'the first prompt');
    for (const line of lines) {
      await new Promise((r) => setTimeout(r, 60)); // idle at the prompt: a start taken there would be early
      const before = marks();
      const t0 = Date.now();
      term.write(`${line.replace(/\n/g, '\r')}\r`);
      await until(() => marks() > before, `the hooks after ${JSON.stringify(line)}`);
      typed.push({ line, t0, t1: Date.now() });
    }
    // The hooks after the marker's (bash-preexec's later precmd functions) finish before the hang-up.
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    term.kill('SIGHUP');
    await exited;
  }
  return { output, typed, records: drainSpool(data), dir: data, cwd };
}

/** One record per command that is not `skip`, in order, each inside the window it was typed in. */
function expectExact(run: Run, shell: Shell, want: [string, number][]): void {
  const plain = run.output.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[=>]/g, '');
  expect(plain, 'the terminal shows no error').not.toMatch(BROKEN);
  expect(
    run.records.map((r) => [r.command, r.exit_code]),
    'one record per command',
  ).toEqual(want);
  let at = 0;
  for (const r of run.records) {
    while (at < run.typed.length && run.typed[at]?.line.trim() !== r.command) at++;
    const t = run.typed[at++] as Typed;
    expect(r.shell).toBe(shell);
    expect(r.cwd).toBe(run.cwd);
    expect(r.start_ms, r.command).toBeGreaterThanOrEqual(t.t0);
    expect(r.end_ms, r.command).toBeGreaterThanOrEqual(r.start_ms);
    expect(r.end_ms, r.command).toBeLessThanOrEqual(t.t1 + 20);
  }
  const sleep = run.records.find((r) => r.command.startsWith('sleep'));
  if (sleep) expect(sleep.end_ms - sleep.start_ms).toBeGreaterThanOrEqual(300);
  expect(
    fs.readdirSync(run.dir).filter((n) => n.startsWith('terminal.cmd.')),
    'an exited bash leaves no scratch file behind a drain',
  ).toEqual([]);
}

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
    expect(run.output).toContain('n=3 [__traced_precmd first second;]');
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
