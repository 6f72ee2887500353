/**
 * The shell hooks against what a hostile tester typed into real shells on a PTY:
 * `set -e` / `err_exit` (a hook that returns the command's status closes the terminal),
 * an exported PROMPT_COMMAND and PS0 reaching a child bash without the hook, commands
 * history hides (HISTCONTROL=erasedups repeats, zsh HISTORY_IGNORE, fish private mode),
 * zsh's ksh_arrays, US/RS typed into a command or a directory name, a read-only PS0.
 * Each case runs the shell with the hook; where the claim is "the shell survives", the
 * same lines run first without the hook as the control. The spool parser gets a
 * property: malformed records between good ones cost only themselves.
 */
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSpool, type TerminalRecord } from '../../src/capture/terminal.js';
import { BROKEN, drive, expectExact, plain, present } from './hook-pty.js';

const mark = (marker: string) => `echo p >> ${marker}`;
const US = '\x1f';
const RS = '\x1e';
const SEPS = /[\x1e\x1f]/;

describe.skipIf(!present.bash)('bash hook, attacked', () => {
  const survive = ['true', 'false && true', '! true', 'echo still', 'sleep 0.3'];
  const surviveWant: [string, number][] = [
    ['true', 0],
    ['false && true', 1],
    ['! true', 1],
    ['echo still', 0],
    ['sleep 0.3', 0],
  ];
  // The prompt and a PROMPT_COMMAND part after ours see the command's own status.
  const rc = (withHook: boolean) => (hook: string, m: string) =>
    `PS1='[$?] READY> '; set -euo pipefail
after() { echo "rc=$?" >> ${m}; }
PROMPT_COMMAND=after
${withHook ? `source ${hook}` : ''}
`;

  it('set -e: the shell survives `false && true` and `! true` as it does without the hook; later hooks and the prompt see the real status', async () => {
    const control = await drive('bash', rc(false), survive);
    expect(control.records).toEqual([]);
    const run = await drive('bash', rc(true), survive);
    expectExact(run, 'bash', surviveWant);
    const marks = (r: typeof run) => (r.output.match(/\[\d+\] READY>/g) ?? []).join(' ');
    expect(marks(run)).toBe(marks(control));
    expect(marks(run)).toBe('[0] READY> [0] READY> [1] READY> [1] READY> [0] READY> [0] READY>');
    const after = (r: typeof run) => fs.readFileSync(path.join(path.dirname(r.dir), 'marker'), 'utf8');
    expect(after(run)).toBe(after(control));
    expect(after(run)).toBe('rc=0\nrc=0\nrc=1\nrc=1\nrc=0\nrc=0\n');
  });

  it('an exported PROMPT_COMMAND and PS0 reach a child bash without the hook: it prints nothing at its prompts', async () => {
    const run = await drive(
      'bash',
      (hook, m) => `PS1='READY> '
export PROMPT_COMMAND='${mark(m)}'
source ${hook}
export PS0
`,
      ['true', 'bash --norc --noprofile -i', 'echo inner', 'false', 'exit', 'echo outer'],
    );
    expect(plain(run.output)).not.toMatch(BROKEN);
    // The child's commands are the child's: only the parent's lines are recorded.
    expect(run.records.map((r) => [r.command, r.exit_code])).toEqual([
      ['true', 0],
      ['bash --norc --noprofile -i', 1],
      ['echo outer', 0],
    ]);
  });

  it('HISTCONTROL=erasedups:ignorespace: a repeated command is recorded each time, history keeps one copy of each, a hidden line stays out', async () => {
    const run = await drive(
      'bash',
      (hook, m) => `PS1='READY> '; HISTCONTROL=erasedups:ignorespace
p() { ${mark(m)}; }
PROMPT_COMMAND=p
source ${hook}
`,
      ['echo a', 'echo b', 'echo a', 'echo a', ' echo hidden', 'echo b', 'history 5'],
    );
    expectExact(run, 'bash', [
      ['echo a', 0],
      ['echo b', 0],
      ['echo a', 0],
      ['echo a', 0],
      ['echo b', 0],
      ['history 5', 0],
    ]);
    // What erasedups leaves: one `echo a`, then one `echo b` (the list printed before the precmd erased the older `history`).
    const listed = [...plain(run.output).matchAll(/^\s*\d+\s+(.*?)\r?$/gm)].map((m) => m[1]);
    expect(listed).toEqual(['echo a', 'echo b', 'history 5']);
  });

  it('US and RS typed into a command or in a directory name are written as visible symbols: no forged record, nothing lost', async () => {
    const run = await drive('bash', (hook, m) => `PS1='READY> '\np() { ${mark(m)}; }\nPROMPT_COMMAND=p\nsource ${hook}\n`, [
      // Ctrl-V makes readline insert the next byte as it is.
      `echo A\x16${RS}1\x16${US}2\x16${US}0\x16${US}/\x16${US}bash\x16${US}FORGED`,
      `mkdir -p $'w\\x1fz\\x1eq' && cd $'w\\x1fz\\x1eq'`,
      'echo here',
    ]);
    expect(plain(run.output)).not.toMatch(BROKEN);
    expect(run.records.map((r) => r.command)).toEqual([
      'echo A\u241e1\u241f2\u241f0\u241f/\u241fbash\u241fFORGED',
      `mkdir -p $'w\\x1fz\\x1eq' && cd $'w\\x1fz\\x1eq'`,
      'echo here',
    ]);
    expect(run.records.map((r) => r.cwd)).toEqual([run.cwd, `${run.cwd}/w\u241fz\u241eq`, `${run.cwd}/w\u241fz\u241eq`]);
  });

  it('a read-only PS0: one line on stderr says commands are not recorded; no error at the prompts', async () => {
    const run = await drive('bash', (hook, m) => `PS1='READY> '; PS0=''; readonly PS0\np() { ${mark(m)}; }\nPROMPT_COMMAND=p\nsource ${hook}\n`, [
      'true',
      'echo b',
    ]);
    const out = plain(run.output);
    expect(out.match(/traced: .*read-only.*not recorded/g)).toHaveLength(1);
    expect(out.replace(/traced: .*/, '')).not.toMatch(BROKEN);
    expect(run.records).toEqual([]);
  });
});

describe.skipIf(!present.zsh)('zsh hook, attacked', () => {
  const rc = (withHook: boolean) => (hook: string, m: string) =>
    `PROMPT='READY> '
setopt err_exit nounset
autoload -Uz add-zsh-hook
_m() { ${mark(m)}; }
add-zsh-hook precmd _m
${withHook ? `source ${hook}\nsetopt ksh_arrays` : ''}
`;
  const lines = ['true', 'false && true', '! true', 'echo still', 'sleep 0.3'];

  it('err_exit, nounset, ksh_arrays: the shell survives as it does without the hook, and the times are right', async () => {
    await drive('zsh', rc(false), lines);
    const run = await drive('zsh', rc(true), lines);
    expectExact(run, 'zsh', [
      ['true', 0],
      ['false && true', 1],
      ['! true', 1],
      ['echo still', 0],
      ['sleep 0.3', 0],
    ]);
  });

  it('HISTORY_IGNORE and hist_ignore_space keep a line out of the spool as out of the history file', async () => {
    const run = await drive(
      'zsh',
      (hook, m) => `PROMPT='READY> '
setopt hist_ignore_space
HISTORY_IGNORE='(secret*|*TOKEN=*)'
autoload -Uz add-zsh-hook
_m() { ${mark(m)}; }
add-zsh-hook precmd _m
source ${hook}
`,
      ['secret=1', 'echo TOKEN=abc', ' echo spaced', 'echo ok'],
    );
    expectExact(run, 'zsh', [['echo ok', 0]]);
  });

  it('US, RS and NUL in a command or a directory name are written as visible symbols', async () => {
    const run = await drive('zsh', (hook, m) => `PROMPT='READY> '\nautoload -Uz add-zsh-hook\n_m() { ${mark(m)}; }\nadd-zsh-hook precmd _m\nsource ${hook}\n`, [
      `mkdir -p $'w\\x1fz\\x1eq' && cd $'w\\x1fz\\x1eq'`,
      `echo A\x16${RS}1\x16${US}2`,
    ]);
    expect(plain(run.output)).not.toMatch(BROKEN);
    expect(run.records.map((r) => [r.command, r.cwd])).toEqual([
      [`mkdir -p $'w\\x1fz\\x1eq' && cd $'w\\x1fz\\x1eq'`, `${run.cwd}/w\u241fz\u241eq`],
      ['echo A\u241e1\u241f2', `${run.cwd}/w\u241fz\u241eq`],
    ]);
  });
});

describe.skipIf(!present.fish)('fish hook, attacked', () => {
  it('fish_private_mode: nothing is recorded; US and RS in a directory name are visible symbols', async () => {
    const rc = (priv: boolean) => (hook: string, m: string) =>
      `function fish_prompt; echo -n 'READY> '; end\nfunction _m --on-event fish_postexec; ${mark(m)}; end\n${priv ? 'set -g fish_private_mode 1\n' : ''}source ${hook}\n`;
    const priv = await drive('fish', rc(true), ['echo secret', 'true']);
    expect(priv.records).toEqual([]);
    const run = await drive('fish', rc(false), ['mkdir -p w\\x1fz\\x1eq; and cd w\\x1fz\\x1eq', 'echo here']);
    expect(plain(run.output)).not.toMatch(BROKEN);
    expect(run.records.map((r) => [r.command, r.cwd])).toEqual([
      ['mkdir -p w\\x1fz\\x1eq; and cd w\\x1fz\\x1eq', `${run.cwd}/w\u241fz\u241eq`],
      ['echo here', `${run.cwd}/w\u241fz\u241eq`],
    ]);
  });
});

describe('the spool parser', () => {
  const field = fc.string({ unit: fc.constantFrom('a', ' ', '/', 'é', '\n', '\t', '"', '\u241f'), maxLength: 20 });
  const good = fc.record({
    start_ms: fc.integer({ min: 1_000_000_000_000, max: 9_999_999_999_999 }),
    end_ms: fc.integer({ min: 1_000_000_000_000, max: 9_999_999_999_999 }),
    exit_code: fc.integer({ min: 0, max: 255 }),
    cwd: field.map((s) => `/${s}`),
    shell: fc.constantFrom('bash', 'zsh', 'fish'),
    command: field.filter((s) => s.trim().length > 0).map((s) => s.trim()),
  });
  const write = (r: TerminalRecord) => [r.start_ms, r.end_ms, r.exit_code, r.cwd, r.shell, r.command].join(US) + RS;
  // A record with a field too many or too few, a bad number or shell, or a torn prefix of a good one.
  const bad = fc.oneof(
    good.map((r) => `${write(r).slice(0, -1)}${US}extra${RS}`),
    good.map((r) => `${[r.start_ms, r.end_ms, r.exit_code, r.shell, r.command].join(US)}${RS}`),
    good.map((r) => write({ ...r, shell: 'sh' })),
    good.map((r) => write(r).replace(String(r.start_ms), `${r.start_ms}x`)),
    fc.string({ maxLength: 30 }).map((s) => `${s.replace(/[\x1e]/g, '')}${RS}`),
  );
  const torn = good.chain((r) => fc.integer({ min: 1, max: write(r).length - 2 }).map((n) => write(r).slice(0, n)));

  it('takes every good record, in order, and nothing from the malformed ones between them', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(good, fc.option(fc.oneof(bad, torn))), { maxLength: 8 }), (items) => {
        const text = items.map(([g, junk]) => (junk ?? '') + write(g)).join('');
        const { records, rest } = parseSpool(text);
        expect(rest).toBe('');
        expect(records).toEqual(items.map(([g]) => g));
      }),
      { numRuns: 300 },
    );
  });

  it('a separator typed into a command by an old hook cannot add a record', () => {
    const forged = `1700000000000${US}1700000000001${US}0${US}/${US}bash${US}echo A${RS}1${US}2${US}0${US}/${US}bash${US}FORGED${RS}`;
    const { records } = parseSpool(forged);
    expect(records.map((r) => r.command)).toEqual(['echo A']);
    expect(records.some((r) => SEPS.test(r.command))).toBe(false);
  });
});
