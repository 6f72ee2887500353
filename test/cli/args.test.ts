/**
 * traced's own argument errors, through the real built CLI (bin/traced.js →
 * dist/): exact messages, codes and exit codes; nothing is sent to (or
 * starts) a daemon when the arguments are wrong. Help per command comes from
 * the command table: every flag of every command is listed with its kind.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCommandArgs } from '../../src/cli/args.js';
import { commands, main } from '../../src/cli/main.js';
import { TracedError } from '../../src/errors.js';
import { cli, killHomeDaemon, makeHome } from '../helpers/env.js';

const home = makeHome({ NO_COLOR: '1' });
afterAll(() => killHomeDaemon(home));

/** Runs the real CLI; asserts it printed one coded error line and exited with `exit`. */
async function refused(args: string[], code: string, exit = 2): Promise<string> {
  const r = await cli(home, args);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(exit);
  expect(r.stdout).toBe('');
  const m = new RegExp(`^traced: ${code}: (.*)\\n$`, 's').exec(r.stderr);
  expect(m, r.stderr).not.toBeNull();
  return (m as RegExpExecArray)[1] as string;
}

describe('argument errors (real CLI)', () => {
  it('an unknown command gets a did-you-mean', async () => {
    expect(await refused(['strat'], 'TRACED_CLI_USAGE')).toBe('unknown command "strat"; did you mean start? (traced help lists the commands)');
    expect(await refused(['sessoins'], 'TRACED_CLI_USAGE')).toBe('unknown command "sessoins"; did you mean sessions? (traced help lists the commands)');
    expect(await refused(['zzzzzz'], 'TRACED_CLI_USAGE')).toBe('unknown command "zzzzzz" (traced help lists the commands)');
  });

  it('an unknown flag says so in traced words, with the nearest flag', async () => {
    expect(await refused(['start', '--bogus'], 'TRACED_CLI_USAGE')).toBe('traced start has no flag --bogus (traced help start shows what it takes)');
    expect(await refused(['start', '--lable', 'x'], 'TRACED_CLI_USAGE')).toBe(
      'traced start has no flag --lable; did you mean --label? (traced help start shows what it takes)',
    );
    expect(await refused(['sessions', '-x'], 'TRACED_CLI_USAGE')).toBe(
      'traced sessions has no flag -x (short flags: -n, -h) (traced help sessions shows what it takes)',
    );
  });

  it('a flag given twice with two values is refused (which was meant?); a repeated switch or the same value is fine', async () => {
    expect(await refused(['start', '--label', 'a', '--label', 'b'], 'TRACED_CLI_USAGE')).toBe(
      '--label was given twice ("a" and "b"): give it once (traced help start shows what it takes)',
    );
    expect(await refused(['sessions', '-n', '3', '--limit=4'], 'TRACED_CLI_USAGE')).toBe(
      '--limit was given twice ("3" and "4"): give it once (traced help sessions shows what it takes)',
    );
    const cmd = commands.find((c) => c.name === 'sessions');
    expect(cmd).toBeDefined();
    expect(parseCommandArgs(cmd as never, ['--limit', '3', '-n', '3', '--json', '--json']).values).toMatchObject({ limit: '3', json: true });
  });

  it('--limit -3 is a value, refused as a number, not an "ambiguous" flag', async () => {
    expect(await refused(['sessions', '--limit', '-3'], 'TRACED_CLI_USAGE')).toBe(
      '--limit takes a whole number from 1 to 500, not "-3" (traced help sessions shows what it takes)',
    );
    expect(await refused(['sessions', '-n', 'ten'], 'TRACED_CLI_USAGE')).toBe(
      '--limit takes a whole number from 1 to 500, not "ten" (traced help sessions shows what it takes)',
    );
    expect(await refused(['sessions', '--limit'], 'TRACED_CLI_USAGE')).toBe('--limit needs a value (N) (traced help sessions shows what it takes)');
  });

  it('refuses unexpected positionals and missing ones', async () => {
    expect(await refused(['status', 'extra'], 'TRACED_CLI_USAGE')).toBe(
      'traced status takes no arguments, but got "extra" (traced help status shows what it takes)',
    );
    expect(await refused(['show', 'a', 'b'], 'TRACED_CLI_USAGE')).toBe(
      'unexpected argument "b": traced show takes SESSION (traced help show shows what it takes)',
    );
    expect(await refused(['show'], 'TRACED_CLI_USAGE')).toBe('traced show needs SESSION (traced help show shows what it takes)');
    expect(await refused(['replay', 'last'], 'TRACED_CLI_USAGE')).toBe('traced replay needs --at TIME (traced help replay shows what it takes)');
    expect(await refused(['hook', 'tcsh'], 'TRACED_CLI_USAGE')).toBe('SHELL is one of bash, zsh, fish, not "tcsh" (traced help hook shows what it takes)');
    expect(await refused(['export', 'last', '--target', 'jsnl'], 'TRACED_CLI_USAGE')).toBe(
      '--target is one of mp4, videodb, json, jsonl, raw, asciicast, not "jsnl"; did you mean jsonl? (traced help export shows what it takes)',
    );
    expect(await refused(['status', '--json=1'], 'TRACED_CLI_USAGE')).toBe(
      '--json is a switch and takes no value (got "1") (traced help status shows what it takes)',
    );
  });

  it('--json errors are one JSON object on stdout with the code', async () => {
    const r = await cli(home, ['status', 'extra', '--json']);
    expect(r.code).toBe(2);
    expect(r.json.error.code).toBe('TRACED_CLI_USAGE');
  });

  it('no wrong arguments reached a daemon: none was started', () => {
    expect(fs.existsSync(path.join(home.home, 'run', 'traced.lock'))).toBe(false);
  });
});

describe('help (real CLI)', () => {
  it('`traced help CMD` and `CMD --help` print the same per-command help, exit 0', async () => {
    const a = await cli(home, ['help', 'sessions']);
    const b = await cli(home, ['sessions', '--help']);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout).toBe(
      [
        'Usage: traced sessions [options]',
        '',
        'list recorded sessions, newest first',
        '',
        'Flags:',
        '  -n, --limit N      at most this many (integer >= 1, <= 500, default "20")',
        '      --since TIME   only sessions still running at or after this time (time)',
        '      --until TIME   only sessions started at or before this time (time)',
        '      --project DIR  only sessions of this project (text)',
        '      --json         print the result as JSON (switch)',
        '  -h, --help         show this help (switch)',
        '',
        'Examples:',
        '  traced sessions --since 2h',
        '  traced sessions --since 09:00 --until 12:30',
        '  traced sessions --since 2026-11-29T14:00:00Z -n 5',
        '',
      ].join('\n'),
    );
  });

  it('export help lists every target', async () => {
    const r = await cli(home, ['export', '--help']);
    for (const t of ['mp4', 'videodb', 'json', 'jsonl', 'raw']) expect(r.stdout).toContain(t);
    expect(r.stdout).toMatch(/-o, --output FILE/);
  });

  it('`help strat` is an unknown command with a did-you-mean', async () => {
    expect(await refused(['help', 'strat'], 'TRACED_CLI_USAGE')).toBe('unknown command "strat"; did you mean start? (traced help lists the commands)');
  });

  it('every command of the table has help naming its usage and each of its flags', async () => {
    for (const c of commands) {
      const out = new PassThrough();
      let text = '';
      out.on('data', (d) => (text += d));
      const code = await main(['help', c.name], { stdout: out, stderr: new PassThrough(), stdin: new PassThrough(), env: home.env, cwd: home.home });
      expect(code, c.name).toBe(0);
      expect(text, c.name).toMatch(new RegExp(`^Usage: traced ${c.name}`));
      for (const [flag, o] of Object.entries(c.options ?? {})) expect(text, `${c.name} --${flag}`).toContain(`--${flag}${o.type === 'string' ? ' ' : ''}`);
    }
  });
});

describe('the parser (property)', () => {
  const sessions = commands.find((c) => c.name === 'sessions');
  it('any argv gives parsed args or a TracedError, never another exception', () => {
    if (!sessions) throw new Error('no sessions command');
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string(), fc.constantFrom('--limit', '-n', '--since', '--', '--json', '-h', '--project', '=', '-')), { maxLength: 8 }),
        (argv) => {
          try {
            parseCommandArgs(sessions, argv);
          } catch (err) {
            expect(err).toBeInstanceOf(TracedError);
            expect(['TRACED_CLI_USAGE', 'TRACED_INVALID_TIME']).toContain((err as TracedError).code);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('every whole number of range is taken by --limit, every other one refused', () => {
    if (!sessions) throw new Error('no sessions command');
    fc.assert(
      fc.property(fc.integer({ min: -1000, max: 1000 }), (n) => {
        const ok = n >= 1 && n <= 500;
        if (ok) expect(parseCommandArgs(sessions, ['--limit', String(n)]).values.limit).toBe(String(n));
        else expect(() => parseCommandArgs(sessions, ['--limit', String(n)])).toThrow(expect.objectContaining({ code: 'TRACED_CLI_USAGE' }));
      }),
    );
  });
});
