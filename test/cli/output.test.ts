/**
 * What the CLI prints and writes, through the real CLI and a real daemon:
 * `export -o` per target with a message naming the file; search matches bold
 * through styleText only when colour is wanted (FORCE_COLOR / NO_COLOR / not
 * a TTY); status in colour; `traced logs` readable, as JSON, and followed
 * across a rotation; `traced config` typed, validated, atomic, preserving.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cli, git, killHomeDaemon, makeHome, makeRepo, tempDir, waitFor, type Home } from '../helpers/env.js';

const ESC = '\u001b[';
/** A home whose env says nothing about colour, whatever the test runner's does. */
function plainHome(): Home {
  const h = makeHome();
  delete h.env.FORCE_COLOR;
  delete h.env.NO_COLOR;
  h.env.TERM = 'xterm-256color';
  return h;
}
const withEnv = (h: Home, env: Record<string, string>): Home => ({ ...h, env: { ...h.env, ...env } });

describe('output of a real session', () => {
  let home: Home;
  let repo: string;
  let id: string;
  beforeAll(async () => {
    home = plainHome();
    repo = await makeRepo();
    const r = await cli(home, ['start', '--profile', 'events', '--json'], { cwd: repo });
    expect(r.code, r.stderr).toBe(0);
    id = r.json.session.id;
    fs.writeFileSync(path.join(repo, 'auth.ts'), 'export const logout = 1;\n');
    await git(repo, 'add', 'auth.ts');
    await git(repo, 'commit', '-qm', 'Clear the token on logout');
    await waitFor(async () => (await cli(home, ['search', 'logout', '--json'])).json?.hits?.some((h: { type: string }) => h.type === 'git.commit'), {
      what: 'the commit in search',
      timeoutMs: 20_000,
    });
  });
  afterAll(() => killHomeDaemon(home));

  it('search shows matches bold with FORCE_COLOR, plain with NO_COLOR or into a pipe, never as **word**', async () => {
    const forced = await cli(withEnv(home, { FORCE_COLOR: '1' }), ['search', 'logout']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain(`${ESC}1mlogout${ESC}22m`);
    for (const h of [withEnv(home, { NO_COLOR: '1' }), home, withEnv(home, { FORCE_COLOR: '0' })]) {
      const r = await cli(h, ['search', 'logout']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Clear the token on logout');
      expect(r.stdout).not.toContain(ESC);
      expect(r.stdout).not.toContain('**');
    }
    // FORCE_COLOR wins over NO_COLOR, as Node and most tools have it.
    expect((await cli(withEnv(home, { FORCE_COLOR: '1', NO_COLOR: '1' }), ['search', 'logout'])).stdout).toContain(`${ESC}1m`);
  });

  it('the replay hint under each hit is a command that works', async () => {
    const r = await cli(home, ['search', 'logout']);
    const hint = /replay: traced (timeline \S+ --from \S+ --to \S+)/.exec(r.stdout);
    expect(hint, r.stdout).not.toBeNull();
    const t = await cli(home, [...String(hint?.[1]).split(' '), '--json']);
    expect(t.code, t.stderr).toBe(0);
    expect(t.json.events.some((e: { type: string }) => e.type === 'git.commit')).toBe(true);
  });

  it('status colours the session and channel states only when colour is wanted', async () => {
    const forced = await cli(withEnv(home, { FORCE_COLOR: '1' }), ['status']);
    expect(forced.stdout).toContain(`${ESC}32mrecording${ESC}39m`);
    expect(forced.stdout).toContain(`${ESC}32mrunning${ESC}39m`);
    const plain = await cli(home, ['status']);
    expect(plain.stdout).toMatch(/state {5}recording \(events\)/);
    expect(plain.stdout).not.toContain(ESC);
  });

  it('export -o moves each target to the file named, and says where, per target', async () => {
    const out = tempDir('exp-');
    for (const target of ['json', 'jsonl'] as const) {
      const r = await cli(home, ['export', id, '--target', target, '-o', `s.${target}`], { cwd: out });
      expect(r.code, r.stderr).toBe(0);
      const file = path.join(out, `s.${target}`);
      expect(r.stdout).toMatch(
        new RegExp(
          `^Wrote ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(${target.toUpperCase()} recording, \\d+ events, [\\d.]+ [KM]?B\\); load it back with: traced import \\S+\\n$`,
        ),
      );
      const text = fs.readFileSync(file, 'utf8');
      if (target === 'jsonl')
        expect(
          text
            .trim()
            .split('\n')
            .every((l) => JSON.parse(l)),
        ).toBe(true);
      else expect(JSON.parse(text).session.id).toBe(id);
      // Moved, not copied: the exports folder does not keep a second copy.
      expect(fs.existsSync(path.join(home.home, 'exports', `${id}.${target}`))).toBe(false);
    }
    // A missing parent is not created (a typo would make a tree): refused before the export runs.
    const deep = await cli(home, ['export', id, '--target', 'jsonl', '-o', path.join(out, 'deep', 'x.jsonl'), '--json']);
    expect(deep.code).toBe(2);
    expect(deep.json.error.code).toBe('TRACED_OUTPUT_REFUSED');
    expect(fs.existsSync(path.join(out, 'deep'))).toBe(false);
    fs.mkdirSync(path.join(out, 'deep'));
    const j = await cli(home, ['export', id, '--target', 'jsonl', '-o', path.join(out, 'deep', 'x.jsonl'), '--json']);
    expect(j.json.file).toBe(path.join(out, 'deep', 'x.jsonl'));
    expect(fs.existsSync(j.json.file)).toBe(true);

    const raw = await cli(home, ['export', id, '--target', 'raw', '-o', path.join(out, 'raw')]);
    expect(raw.code, raw.stderr).toBe(0);
    expect(raw.stdout).toBe('No channel files to write: the session has no stored media.\n');

    const vdb = await cli(home, ['export', id, '--target', 'videodb', '-o', path.join(out, 'v.json')]);
    expect(vdb.code).toBe(1);
    expect(vdb.stdout).toBe('VideoDB: not_configured\n  no VideoDB key: set videodb.apiKey in config.json or VIDEO_DB_API_KEY\n');
    expect(fs.existsSync(path.join(out, 'v.json'))).toBe(false);

    const dir = await cli(home, ['export', id, '--target', 'json', '-o', out]);
    expect(dir.code).toBe(2);
    expect(dir.stderr).toBe(`traced: TRACED_OUTPUT_REFUSED: -o ${out} is a folder; traced writes regular files only: name a file\n`);
  });

  it('export -o never replaces what is there: existing files need --force, devices and fifos are refused and survive, - prints', async () => {
    const out = tempDir('exp-');
    const precious = path.join(out, 'precious.json');
    fs.writeFileSync(precious, 'precious');
    const kept = await cli(home, ['export', id, '--target', 'json', '-o', precious]);
    expect(kept.code).toBe(2);
    expect(kept.stderr).toMatch(/^traced: TRACED_OUTPUT_REFUSED: .*already exists; pass --force/);
    expect(fs.readFileSync(precious, 'utf8')).toBe('precious');
    const forced = await cli(home, ['export', id, '--target', 'json', '-o', precious, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(precious, 'utf8')).session.id).toBe(id);

    const fifo = path.join(out, 'pipe');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const targets: string[] = [fifo];
    // A /dev/null twin on tmpfs: another file system than the exports folder, where a copy used to unlink the destination on error.
    const shm = process.getuid?.() === 0 && fs.existsSync('/dev/shm') ? fs.mkdtempSync('/dev/shm/exp-') : undefined;
    if (shm) {
      expect(spawnSync('mknod', ['-m', '666', path.join(shm, 'null'), 'c', '1', '3']).status).toBe(0);
      fs.symlinkSync(path.join(shm, 'null'), path.join(out, 'stdout'));
      targets.push(path.join(shm, 'null'), path.join(out, 'stdout'));
    }
    try {
      for (const t of targets)
        for (const force of [[], ['--force']]) {
          const r = await cli(home, ['export', id, '--target', 'json', '-o', t, ...force, '--json']);
          expect(r.code, `${t} ${force}`).toBe(2);
          expect(r.json.error.code).toBe('TRACED_OUTPUT_REFUSED');
        }
      expect(fs.statSync(fifo).isFIFO()).toBe(true);
      if (shm) expect(fs.statSync(path.join(shm, 'null')).isCharacterDevice()).toBe(true);
    } finally {
      if (shm) fs.rmSync(shm, { recursive: true });
    }

    const printed = await cli(home, ['export', id, '--target', 'jsonl', '-o', '-']);
    expect(printed.code, printed.stderr).toBe(0);
    const lines = printed.stdout.trimEnd().split('\n');
    expect(JSON.parse(lines[0] as string).session?.id ?? JSON.parse(lines[0] as string).id).toBe(id);
    expect(printed.stderr).toMatch(/^Printed \(JSONL recording/);
    for (const bad of [
      ['--target', 'mp4', '-o', '-'],
      ['-o', ''],
    ]) {
      const r = await cli(home, ['export', id, ...bad, '--json']);
      expect(r.json?.error?.code, r.stdout).toBe('TRACED_OUTPUT_REFUSED');
    }
    expect(fs.readdirSync(out).filter((n) => n.includes('traced-tmp'))).toEqual([]);
  });

  it('recorded text with terminal control sequences is printed inert by every renderer, colour or not', async () => {
    // What an editor extension (or anything that can reach the socket) could send: retitle, clear screen, C1 CSI, bidi override.
    const evil = 'zzhostile \u001b]0;PWNED\u0007\u001b[2J\u009b31m\u202egnp.exe\r\u0008over';
    const ing = await cli(home, ['call', 'ingest_event', JSON.stringify({ type: 'editor.note', data: { text: evil, path: evil } })]);
    expect(ing.code, ing.stderr).toBe(0);
    await waitFor(async () => (await cli(home, ['search', 'zzhostile', '--json'])).json?.hits?.length > 0, { what: 'the event in search' });
    const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
    for (const args of [
      ['search', 'zzhostile'],
      ['timeline', id],
      ['show', id],
      ['replay', id, '--at', '+0:00'],
      ['what-happened', id],
    ]) {
      const plain = await cli(withEnv(home, { FORCE_COLOR: '0' }), args);
      expect(plain.code, `${args.join(' ')}: ${plain.stderr}`).toBe(0);
      expect(plain.stdout, args.join(' ')).not.toMatch(CONTROL);
      const coloured = await cli(withEnv(home, { FORCE_COLOR: '1' }), args);
      // Only the CLI's own SGR colour codes remain.
      expect(coloured.stdout.replace(/\u001b\[\d+m/g, ''), args.join(' ')).not.toMatch(CONTROL);
    }
    const shown = await cli(withEnv(home, { FORCE_COLOR: '0' }), ['search', 'zzhostile']);
    expect(shown.stdout).toContain('\\u001b]0;PWNED');
    // --json keeps the data as recorded (JSON escapes it).
    const j = await cli(home, ['search', 'zzhostile', '--json']);
    expect(JSON.stringify(j.json)).toContain('\\u001b]0;PWNED');
  });

  it('logs prints readable lines (time, level, [module], message, fields), or the stored JSON with --json', async () => {
    const r = await cli(home, ['logs', '-n', '5']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(5);
    for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) \S/);
    expect(r.stdout).not.toMatch(/"level":/);
    const j = await cli(home, ['logs', '-n', '3', '--json']);
    const parsed = j.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(parsed).toHaveLength(3);
    for (const p of parsed) expect(typeof p.msg).toBe('string');
  });

  it('logs -f prints new lines as they are written, across a rotation, until Ctrl-C', async () => {
    const logDir = path.join(home.home, 'logs');
    const child = spawn(process.execPath, [BIN, 'logs', '-f', '-n', '0'], { env: home.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await new Promise((r) => setTimeout(r, 1500));
      fs.appendFileSync(path.join(logDir, 'current.log'), `${JSON.stringify({ level: 50, time: Date.now(), mod: 'probe', msg: 'first probe', n: 1 })}\n`);
      await waitFor(() => out.includes('ERROR [probe] first probe  n=1'), { what: 'the appended line', timeoutMs: 5000 });
      // Rotation: current.log now points at a new file.
      const next = path.join(logDir, 'traced.999.log');
      fs.writeFileSync(next, `${JSON.stringify({ level: 40, time: Date.now(), msg: 'after rotation', file: 'a b' })}\n`);
      fs.rmSync(path.join(logDir, 'current.log'));
      fs.symlinkSync('traced.999.log', path.join(logDir, 'current.log'));
      await waitFor(() => out.includes('WARN  after rotation  file="a b"'), { what: 'the line after rotation', timeoutMs: 5000 });
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
  });
});

describe('traced config', () => {
  let home: Home;
  let file: string;
  beforeAll(() => {
    home = plainHome();
    file = path.join(home.home, 'config.json');
    fs.writeFileSync(file, '{\n    "logLevel": "debug",\n    "capture": { "fps": 2 }\n}\n', { mode: 0o640 });
  });

  it('set types values by the schema, keeps the other keys, their order and the indentation, and writes atomically', async () => {
    for (const [k, v] of [
      ['capture.fps', '4'],
      ['index.ocr.enabled', 'no'],
      ['files.ignore', 'a.tmp,gen/**'],
      ['privacy.secretFiles', '["*.secret"]'],
      ['session.defaultProfile', 'full'],
    ]) {
      const r = await cli(home, ['config', 'set', k as string, v as string]);
      expect(r.code, r.stderr).toBe(0);
    }
    expect(fs.readFileSync(file, 'utf8')).toBe(
      `${JSON.stringify(
        {
          logLevel: 'debug',
          capture: { fps: 4 },
          index: { ocr: { enabled: false } },
          files: { ignore: ['a.tmp', 'gen/**'] },
          privacy: { secretFiles: ['*.secret'] },
          session: { defaultProfile: 'full' },
        },
        null,
        '    ',
      )}\n`,
    );
    expect(fs.statSync(file).mode & 0o777).toBe(0o640);
    expect(fs.readdirSync(home.home).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect((await cli(home, ['config', 'get', 'capture.fps'])).stdout).toBe('4\n');
    expect((await cli(home, ['config', 'get', 'capture.segmentSeconds', '--json'])).json).toEqual({ key: 'capture.segmentSeconds', value: 60 });
  });

  it('refuses unknown keys with a did-you-mean, wrong values with the reason, and writes nothing then', async () => {
    const before = fs.readFileSync(file, 'utf8');
    const cases: [string[], string][] = [
      [['config', 'set', 'capture.fsp', '3'], 'unknown config key "capture.fsp"; did you mean capture.fps? (traced config list shows every key)'],
      [
        ['config', 'set', 'segmentSeconds', '30'],
        'unknown config key "segmentSeconds"; did you mean capture.segmentSeconds? (traced config list shows every key)',
      ],
      [['config', 'set', 'capture.fps', 'fast'], 'capture.fps takes a number, not "fast"'],
      [['config', 'set', 'capture.segmentSeconds', '1'], 'capture.segmentSeconds: Too small: expected number to be >=2; nothing was written'],
      [['config', 'set', 'index.ocr.enabled', 'maybe'], 'index.ocr.enabled takes true or false, not "maybe"'],
      [['config', 'set', 'session.defaultProfile', 'ful'], 'session.defaultProfile is one of full, audio, events, not "ful"'],
      [['config', 'set', 'capture.fps'], 'usage: traced config set KEY VALUE'],
      [
        ['config', 'sett', 'capture.fps', '3'],
        'ACTION is one of get, set, unset, path, list, not "sett"; did you mean set? (traced help config shows what it takes)',
      ],
    ];
    for (const [args, msg] of cases) {
      const r = await cli(home, args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toBe(`traced: TRACED_CLI_USAGE: ${msg}\n`);
    }
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
  });

  it('unset removes the key (and groups left empty); list shows every key with where it is set; path names the file', async () => {
    expect((await cli(home, ['config', 'unset', 'capture.fps'])).code).toBe(0);
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).capture).toBeUndefined();
    const list = await cli(home, ['config', 'list']);
    expect(list.stdout).toContain('capture.fps = 2\n');
    expect(list.stdout).toContain('session.defaultProfile = "full"  (config.json)\n');
    expect((await cli(home, ['config', 'path'])).stdout).toBe(`${file}\n`);
  });

  it('never prints the VideoDB key', async () => {
    const key = 'vdb_live_9f8e7d6c5b4a39281716';
    const r = await cli(home, ['config', 'set', 'videodb.apiKey', key]);
    expect(r.code, r.stderr).toBe(0);
    for (const args of [
      ['config', 'get', 'videodb.apiKey'],
      ['config', 'list'],
      ['config', 'list', '--json'],
      ['config', 'get', 'videodb'],
    ]) {
      const o = await cli(home, args);
      expect(o.stdout, args.join(' ')).not.toContain(key);
    }
    expect(r.stdout).not.toContain(key);
  });
});
