/**
 * Environment faults from the hostile run (issue 14), through the real CLI and
 * daemon: a garbage traced.db, a home that cannot be written, a socket
 * directory that cannot be used, a home under /proc, and a broken config.json.
 * Each gets its own code (never TRACED_INTERNAL) and a message with a fix; the
 * daemon stays up where it should; and nothing is written outside the home:
 * every run gets HOME, XDG_* and TMPDIR inside a sandbox that is listed after.
 */
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BIN,
  ROOT,
  type CliResult,
  type DaemonProc,
  type Home,
  cli,
  makeRepo,
  socketAnswers,
  startDaemonProc,
  stopDaemonProc,
  tempDir,
  waitFor,
} from '../helpers/env.js';

const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;
const hasSetpriv = spawnSync('sh', ['-c', 'command -v setpriv']).status === 0;
/** Permission faults need a user root's rights do not cover: nobody, through setpriv, when the tests run as root. */
/** Whether nobody can run this checkout at all: a clone inside a private folder (0700 /tmp/xyz) cannot be entered by another user. */
const nobodyReaches =
  isRoot && hasSetpriv
    ? spawnSync('setpriv', [
        `--reuid=${NOBODY}`,
        `--regid=${NOBODY}`,
        '--clear-groups',
        process.execPath,
        '-e',
        `require('fs').accessSync(${JSON.stringify(BIN)}, 4)`,
      ]).status === 0
    : true;
const canDropRoot = !isRoot || (hasSetpriv && nobodyReaches);
if (!canDropRoot) {
  console.warn(
    hasSetpriv
      ? `SKIPPED the permission cases: they run traced as nobody, who cannot enter this checkout (${ROOT}: a parent folder is private). Run the suite from a checkout others can read to cover them.`
      : 'SKIPPED the permission cases: tests run as root and setpriv is missing',
  );
}

interface Sandbox extends Home {
  root: string;
}

/** A temp root holding the home and everything else a run could touch: HOME, XDG dirs, TMPDIR. */
function sandbox(opts: { home?: string; env?: NodeJS.ProcessEnv } = {}): Sandbox {
  const root = tempDir('ef-');
  fs.chmodSync(root, 0o755);
  for (const d of ['user', 'tmp']) fs.mkdirSync(path.join(root, d), { mode: 0o777 });
  fs.chmodSync(path.join(root, 'tmp'), 0o1777);
  const home = opts.home ?? path.join(root, 'home');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: path.join(root, 'user'),
    XDG_DATA_HOME: path.join(root, 'user', 'data'),
    XDG_CONFIG_HOME: path.join(root, 'user', 'config'),
    XDG_CACHE_HOME: path.join(root, 'user', 'cache'),
    XDG_RUNTIME_DIR: path.join(root, 'user', 'run'),
    TMPDIR: path.join(root, 'tmp'),
    TRACED_HOME: home,
    TRACED_LOG_LEVEL: 'debug',
  };
  delete env.TRACED_SOCKET_DIR;
  delete env.DISPLAY;
  Object.assign(env, opts.env);
  for (const [k, v] of Object.entries(opts.env ?? {})) if (v === undefined) delete env[k];
  return { root, home, socket: path.join(home, 'run', 'traced.sock'), env };
}

/** Files and folders under the sandbox that are neither in `allowed` (nor below) nor the sandbox's own skeleton. */
function writtenOutside(sb: Sandbox, allowed: string[]): string[] {
  const skeleton = new Set(['user', 'tmp'].map((d) => path.join(sb.root, d)));
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (allowed.some((a) => p === a || p.startsWith(`${a}/`))) continue;
      if (!skeleton.has(p)) out.push(p);
      if (e.isDirectory() && !e.isSymbolicLink()) walk(p);
    }
  };
  walk(sb.root);
  return out;
}

/** The CLI as nobody (when the tests run as root) or as this user. */
function cliAs(sb: Home, args: string[], timeoutMs = 30_000): Promise<CliResult & { ms: number }> {
  const [cmd, argv] = isRoot
    ? ['setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, BIN, ...args]]
    : [process.execPath, [BIN, ...args]];
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(cmd as string, argv as string[], { env: sb.env, cwd: ROOT, timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ code, stdout, stderr, json, ms: Date.now() - t0 });
    });
  });
}

async function timed(sb: Home, args: string[]): Promise<CliResult & { ms: number }> {
  const t0 = Date.now();
  const r = await cli(sb, args, { timeoutMs: 20_000 });
  return { ...r, ms: Date.now() - t0 };
}

/** The CLI failed with exactly `code`, said how to fix it, and never fell back to TRACED_INTERNAL. */
function expectCoded(r: CliResult, code: string, fix: RegExp): string {
  expect(r.json?.error?.code, `${r.stderr}\n${r.stdout}`).toBe(code);
  expect(r.stderr).not.toContain('TRACED_INTERNAL');
  expect(r.code).not.toBe(0);
  const message: string = r.json.error.message;
  expect(message).toMatch(/Fix: /);
  expect(message).toMatch(fix);
  return message;
}

const daemons: DaemonProc[] = [];
const mounts: string[] = [];
afterAll(async () => {
  for (const d of daemons) await stopDaemonProc(d);
  for (const m of mounts) spawnSync('umount', ['-l', m]);
});

describe('a garbage traced.db', () => {
  it('is moved aside, the database is rebuilt from the session folders, and doctor says so', async () => {
    const sb = sandbox();
    const repo = await makeRepo();
    let daemon = await startDaemonProc(sb);
    daemons.push(daemon);
    const start = await cli(sb, ['start', '--project', repo, '--label', 'before the damage', '--json']);
    expect(start.code, start.stderr).toBe(0);
    const id: string = start.json.session.id;
    fs.writeFileSync(path.join(repo, 'kept.ts'), 'export const kept = 1;\n');
    await waitFor(async () => (await cli(sb, ['show', id, '--json'])).json?.counts?.['file.created'] >= 1, { what: 'file event' });
    const stopped = await cli(sb, ['stop', '--json']);
    expect(stopped.code, stopped.stderr).toBe(0);
    const events: number = stopped.json.event_count;
    expect(events).toBeGreaterThan(0);
    await stopDaemonProc(daemon);

    const db = path.join(sb.home, 'traced.db');
    const garbage = Buffer.from(`not a database ${'\u00ff'.repeat(2000)}`);
    fs.writeFileSync(db, garbage);
    fs.writeFileSync(`${db}-wal`, 'garbage wal');

    daemon = await startDaemonProc(sb);
    daemons.push(daemon);
    const moved = fs.readdirSync(sb.home).filter((n) => /^traced\.db\.corrupt-[\dT-]+Z$/.test(n));
    expect(moved).toHaveLength(1);
    const movedFile = path.join(sb.home, moved[0] as string);
    expect(fs.readFileSync(movedFile)).toEqual(garbage);
    expect(fs.readFileSync(`${movedFile}-wal`, 'utf8')).toBe('garbage wal');

    const list = await cli(sb, ['sessions', '--json']);
    expect(list.code, list.stderr).toBe(0);
    const back = JSON.stringify(list.json);
    expect(back).toContain(id);
    const show = await cli(sb, ['show', id, '--json']);
    expect(show.json.session.label).toBe('before the damage');
    expect(show.json.session.event_count).toBe(events);
    expect(show.json.counts['file.created']).toBeGreaterThanOrEqual(1);

    const log = fs.readFileSync(path.join(sb.home, 'logs', 'current.log'), 'utf8');
    const warning = log.split('\n').find((l) => l.includes('"TRACED_DB_CORRUPT"'));
    expect(warning).toBeDefined();
    expect(JSON.parse(warning as string)).toMatchObject({ level: 40, moved_to: movedFile });

    const doctor = await cli(sb, ['doctor', '--json']);
    const line = doctor.json.checks.find((c: any) => c.id === 'db-moved');
    expect(line.status).toBe('warn');
    expect(line.summary).toContain('TRACED_DB_CORRUPT');
    expect(line.summary).toContain(movedFile);
    expect(line.fix).toBeTruthy();
    expect(doctor.json.checks.find((c: any) => c.id === 'database').status).toBe('ok');

    expect(daemon.child.exitCode).toBeNull();
    expect(await socketAnswers(sb.socket)).toBe(true);
    // doctor's pactl (PulseAudio's client, not traced) makes $XDG_RUNTIME_DIR/pulse when it looks for a server.
    const pulse = path.join(sb.root, 'user', 'run');
    expect(writtenOutside(sb, [sb.home, path.join(pulse, 'pulse')]).filter((p) => p !== pulse)).toEqual([]);
    await stopDaemonProc(daemon);
  });
});

describe('a home that cannot be written', () => {
  it('under a regular file: TRACED_HOME_UNWRITABLE naming the file in the way, at once', async () => {
    const sb0 = sandbox();
    const file = path.join(sb0.root, 'a-file');
    fs.writeFileSync(file, 'x');
    const sb = { ...sb0, home: path.join(file, 'home'), env: { ...sb0.env, TRACED_HOME: path.join(file, 'home') } };
    for (const cmd of [
      ['sessions', '--json'],
      ['status', '--json'],
    ]) {
      const r = await timed(sb, cmd);
      const message = expectCoded(r, 'TRACED_HOME_UNWRITABLE', /TRACED_HOME/);
      expect(message).toContain(`${file} is a file`);
      expect(r.ms).toBeLessThan(5000);
    }
    expect(writtenOutside(sb0, [file])).toEqual([]);
  });

  it.skipIf(!canDropRoot)('read-only to its user (mode 0555): TRACED_HOME_UNWRITABLE with the chmod to run', async () => {
    const sb = sandbox();
    fs.mkdirSync(sb.home, { mode: 0o555 });
    fs.chmodSync(sb.home, 0o555);
    if (isRoot) fs.chownSync(sb.home, NOBODY, NOBODY);
    const r = await cliAs(sb, ['sessions', '--json']);
    const message = expectCoded(r, 'TRACED_HOME_UNWRITABLE', /TRACED_HOME/);
    expect(message).toContain(`chmod u+rwx ${sb.home}`);
    expect(message).toMatch(/mode 0555/);
    expect(fs.readdirSync(sb.home)).toEqual([]);
    expect(writtenOutside(sb, [sb.home])).toEqual([]);
  });

  it.skipIf(!canDropRoot)('inside a folder of another user: TRACED_HOME_UNWRITABLE naming that folder and its owner', async () => {
    const sb0 = sandbox();
    const theirs = path.join(sb0.root, 'theirs');
    fs.mkdirSync(theirs, { mode: 0o755 });
    fs.chmodSync(theirs, 0o755);
    const home = path.join(theirs, 'traced');
    const sb = { ...sb0, home, env: { ...sb0.env, TRACED_HOME: home } };
    // As root, `theirs` is root's and the CLI runs as nobody; otherwise it is ours but closed.
    if (!isRoot) fs.chmodSync(theirs, 0o555);
    const r = await cliAs(sb, ['status', '--json']);
    const message = expectCoded(r, 'TRACED_HOME_UNWRITABLE', /TRACED_HOME/);
    expect(message).toContain(`permission denied: ${theirs}`);
    expect(fs.readdirSync(theirs)).toEqual([]);
    expect(writtenOutside(sb0, [theirs])).toEqual([]);
  });

  it('on a read-only file system: TRACED_HOME_UNWRITABLE saying so (needs a tmpfs mount)', async (ctx) => {
    const sb = sandbox();
    fs.mkdirSync(sb.home);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', sb.home], { encoding: 'utf8' });
    if (m.status !== 0) {
      console.warn(`SKIPPED the read-only file system case: cannot mount a tmpfs (${(m.stderr || '').trim()})`);
      return ctx.skip();
    }
    mounts.push(sb.home);
    const r = await timed(sb, ['sessions', '--json']);
    expect(expectCoded(r, 'TRACED_HOME_UNWRITABLE', /TRACED_HOME/)).toContain('read-only file system');
    spawnSync('umount', ['-l', sb.home]);
    expect(writtenOutside(sb, [sb.home])).toEqual([]);
  });

  it.skipIf(process.platform !== 'linux')('under /proc: a coded error within seconds, not a spinning mkdir', async () => {
    const sb0 = sandbox();
    const sb = { ...sb0, home: '/proc/nope', env: { ...sb0.env, TRACED_HOME: '/proc/nope' } };
    for (const cmd of [['status', '--json'], ['daemon']]) {
      const r = await timed(sb, cmd);
      expect(r.ms).toBeLessThan(5000);
      if (cmd[0] === 'daemon') {
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(/^traced: TRACED_HOME_UNWRITABLE: .*\/proc.*Fix: /m);
      } else expect(expectCoded(r, 'TRACED_HOME_UNWRITABLE', /TRACED_HOME/)).toContain('/proc/nope');
    }
    expect(fs.existsSync('/proc/nope')).toBe(false);
    expect(writtenOutside(sb0, [])).toEqual([]);
  });
});

describe('a socket directory that cannot be used', () => {
  it('of mode 0500: TRACED_SOCKET_DIR_UNUSABLE with the mode and the chmod', async () => {
    const sb0 = sandbox();
    const dir = path.join(sb0.root, 'sock');
    fs.mkdirSync(dir, { mode: 0o500 });
    fs.chmodSync(dir, 0o500);
    const sb = { ...sb0, socket: path.join(dir, 'traced.sock'), env: { ...sb0.env, TRACED_SOCKET_DIR: dir } };
    const message = expectCoded(await timed(sb, ['status', '--json']), 'TRACED_SOCKET_DIR_UNUSABLE', new RegExp(`chmod 700 ${dir}`));
    expect(message).toContain('mode 0500');
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o500);
    // The foreground daemon refuses the same way, before it takes any lock or opens the database.
    const d = await timed(sb, ['daemon']);
    expect(d.stderr).toMatch(/^traced: TRACED_SOCKET_DIR_UNUSABLE: .*mode 0500/m);
    expect(fs.existsSync(path.join(sb.home, 'traced.db'))).toBe(false);
    expect(writtenOutside(sb, [sb.home, dir])).toEqual([]);
  });

  it('under a regular file: TRACED_SOCKET_DIR_UNUSABLE naming the file', async () => {
    const sb0 = sandbox();
    const file = path.join(sb0.root, 'a-file');
    fs.writeFileSync(file, 'x');
    const dir = path.join(file, 'sock');
    const sb = { ...sb0, env: { ...sb0.env, TRACED_SOCKET_DIR: dir } };
    const message = expectCoded(await timed(sb, ['sessions', '--json']), 'TRACED_SOCKET_DIR_UNUSABLE', /TRACED_SOCKET_DIR/);
    expect(message).toContain(`${file} is a file, not a directory`);
    expect(writtenOutside(sb, [sb.home, file])).toEqual([]);
  });

  it('an XDG_RUNTIME_DIR that is a file: TRACED_SOCKET_DIR_UNUSABLE', async () => {
    const sb0 = sandbox({ env: { TRACED_HOME: undefined } });
    const runtime = path.join(sb0.root, 'runtime');
    fs.writeFileSync(runtime, 'x');
    const sb = { ...sb0, home: path.join(sb0.root, 'user', 'data', 'traced'), env: { ...sb0.env, XDG_RUNTIME_DIR: runtime } };
    const message = expectCoded(await timed(sb, ['status', '--json']), 'TRACED_SOCKET_DIR_UNUSABLE', /TRACED_SOCKET_DIR/);
    expect(message).toContain(`${runtime} is a file`);
    // The home's parents (XDG_DATA_HOME) are made with it.
    expect(writtenOutside(sb, [path.join(sb.root, 'user', 'data'), runtime])).toEqual([]);
  });

  it.skipIf(!canDropRoot)('an XDG_RUNTIME_DIR this user cannot write: TRACED_SOCKET_DIR_UNUSABLE with its owner and mode', async () => {
    const sb0 = sandbox({ env: { TRACED_HOME: undefined } });
    const runtime = path.join(sb0.root, 'runtime');
    fs.mkdirSync(runtime, { mode: 0o555 });
    fs.chmodSync(runtime, 0o555);
    // Nobody's own data folder, so that only the runtime dir is in the way.
    const data = path.join(sb0.root, 'user', 'data');
    fs.mkdirSync(data, { mode: 0o700 });
    if (isRoot) fs.chownSync(data, NOBODY, NOBODY);
    const sb = { ...sb0, home: path.join(data, 'traced'), env: { ...sb0.env, XDG_RUNTIME_DIR: runtime } };
    const message = expectCoded(await cliAs(sb, ['status', '--json']), 'TRACED_SOCKET_DIR_UNUSABLE', /TRACED_SOCKET_DIR/);
    expect(message).toMatch(new RegExp(`permission denied: ${runtime} .*mode 0555`));
    expect(fs.readdirSync(runtime)).toEqual([]);
    expect(writtenOutside(sb, [data, runtime])).toEqual([]);
  });
});

describe('a broken config.json', () => {
  const broken: [string, string, RegExp][] = [
    ['an array', '[{"logLevel": "info"}]', /holds an array/],
    ['null', 'null', /holds null/],
    ['a misspelt nested key', '{"capture": {"segmentSecond": 30}}', /unknown key "capture\.segmentSecond" \(did you mean "capture\.segmentSeconds"\?\)/],
    ['a syntax error', '{\n  "logLevel": "info",\n  "capture": {"fps": 2,}\n}\n', /line 3, column 24/],
  ];
  for (const [what, text, says] of broken) {
    it(`with ${what} is TRACED_CONFIG_INVALID naming the problem, and no daemon starts`, async () => {
      const sb = sandbox();
      fs.mkdirSync(sb.home);
      fs.writeFileSync(path.join(sb.home, 'config.json'), text);
      const message = expectCoded(await timed(sb, ['sessions', '--json']), 'TRACED_CONFIG_INVALID', says);
      expect(message).toContain(path.join(sb.home, 'config.json'));
      expect(await socketAnswers(sb.socket)).toBe(false);
      const d = await timed(sb, ['daemon']);
      expect(d.stderr).toMatch(/^traced: TRACED_CONFIG_INVALID: /m);
      expect(writtenOutside(sb, [sb.home])).toEqual([]);
    });
  }

  it('still lets stop, pause and status reach the daemon already running, with a warning; start refuses', async () => {
    const sb = sandbox();
    const repo = await makeRepo();
    const daemon = await startDaemonProc(sb);
    daemons.push(daemon);
    const start = await cli(sb, ['start', '--project', repo, '--json']);
    expect(start.code, start.stderr).toBe(0);
    const config = path.join(sb.home, 'config.json');
    fs.writeFileSync(config, '{"capture": {"segmentSecond": 30}}');

    const status = await cli(sb, ['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.json.session.id).toBe(start.json.session.id);
    expect(status.stderr).toMatch(/warning: TRACED_CONFIG_INVALID: .*segmentSecond.*segmentSeconds/);
    expect(status.stderr).toContain(sb.socket);

    const pause = await cli(sb, ['pause', '--json']);
    expect(pause.code, pause.stderr).toBe(0);
    expect(pause.json.state).toBe('paused');

    // Anything that would record under a config other than the file's is refused.
    expectCoded(await cli(sb, ['resume', '--json']), 'TRACED_CONFIG_INVALID', /segmentSeconds/);
    expectCoded(await cli(sb, ['sessions', '--json']), 'TRACED_CONFIG_INVALID', /segmentSeconds/);

    const stop = await cli(sb, ['stop', '--json']);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.json.id).toBe(start.json.session.id);
    expect(stop.stderr).toMatch(/warning: TRACED_CONFIG_INVALID/);
    expect(daemon.child.exitCode).toBeNull();

    // With the daemon gone, status says what to fix and starts nothing.
    await stopDaemonProc(daemon);
    const after = await cli(sb, ['status', '--json']);
    expect(expectCoded(after, 'TRACED_CONFIG_INVALID', /segmentSeconds/)).toMatch(/No daemon is running/);
    expect(await socketAnswers(sb.socket)).toBe(false);

    // A socketDir the broken file still names is where the daemon is looked for.
    const sockDir = path.join(sb.root, 'sock');
    fs.writeFileSync(config, JSON.stringify({ socketDir: sockDir }));
    const moved = { ...sb, socket: path.join(sockDir, 'traced.sock') };
    const d2 = await startDaemonProc(moved);
    daemons.push(d2);
    fs.writeFileSync(config, JSON.stringify({ socketDir: sockDir, logLevl: 'info' }));
    const s2 = await cli(sb, ['status', '--json']);
    expect(s2.code, s2.stderr).toBe(0);
    expect(s2.stderr).toMatch(/did you mean "logLevel"/);
    expect(s2.stderr).toContain(moved.socket);
    await stopDaemonProc(d2);
    expect(writtenOutside(sb, [sb.home, sockDir])).toEqual([]);
  });
});
