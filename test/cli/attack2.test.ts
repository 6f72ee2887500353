/**
 * Hostile-user reproductions for issue 17 (h-atk2). Each test states the
 * expected behaviour; they FAIL on main at fff362e where a bug was found.
 * Everything runs in temp homes; nothing here starts a daemon.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { reachPaths } from '../../src/config/setup.js';
import { stopDaemon } from '../../src/ipc/connect.js';
import { BIN, tempDir } from '../helpers/env.js';

async function run(env: Record<string, string>, cwd: string, ...args: string[]) {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d) => (stdout += d));
  err.on('data', (d) => (stderr += d));
  const code = await main(args, { stdout: out, stderr: err, stdin: new PassThrough(), env, cwd });
  return { code, stdout, stderr };
}

function homes(): Record<string, string> {
  return { TRACED_HOME: tempDir('atk-th-'), HOME: tempDir('atk-h-'), PATH: process.env.PATH ?? '/usr/bin:/bin' };
}

const started: number[] = [];
afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

describe('daemon stop with a stale lock file', () => {
  it('never signals an unrelated process whose command line merely mentions "traced" and "daemon"', async () => {
    const env = homes();
    const { paths } = reachPaths(env);
    fs.mkdirSync(path.dirname(paths.lockFile), { recursive: true, mode: 0o700 });
    // e.g. a developer's editor on this very repo: `vim ~/src/traced/src/daemon/lock.ts`
    const victim = spawn('bash', ['-c', 'exec -a "vim /home/u/src/traced/src/daemon/lock.ts" sleep 60'], { stdio: 'ignore' });
    started.push(victim.pid as number);
    await new Promise((r) => setTimeout(r, 300));
    fs.writeFileSync(paths.lockFile, String(victim.pid));
    const r = await stopDaemon(paths, { graceMs: 1000 });
    let alive = true;
    try {
      process.kill(victim.pid as number, 0);
    } catch {
      alive = false;
    }
    expect(r.how).toBeNull();
    expect(alive).toBe(true);
  });
});

describe('traced logs', () => {
  it('-n 0 prints no lines (it printed the whole last 4 MiB: slice(-0))', async () => {
    const env = homes();
    const logs = path.join(env.TRACED_HOME as string, 'logs');
    fs.mkdirSync(logs, { recursive: true });
    fs.writeFileSync(
      path.join(logs, 'traced.1.log'),
      Array.from({ length: 30 }, (_, i) => JSON.stringify({ level: 30, time: 1764430000000, msg: `line ${i}` })).join('\n') + '\n',
    );
    fs.symlinkSync('traced.1.log', path.join(logs, 'current.log'));
    const r = await run(env, '/', 'logs', '-n', '0');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
  });

  it('does not pass terminal control sequences from log fields through to the terminal', async () => {
    const env = { ...homes(), FORCE_COLOR: '0' };
    const logs = path.join(env.TRACED_HOME as string, 'logs');
    fs.mkdirSync(logs, { recursive: true });
    fs.writeFileSync(
      path.join(logs, 'traced.1.log'),
      `${JSON.stringify({ level: 30, time: 1764430000000, msg: 'file changed', file: 'x\u001b]0;PWNED\u0007\u001b[2J.ts' })}\n`,
    );
    fs.symlinkSync('traced.1.log', path.join(logs, 'current.log'));
    const r = await run(env, '/', 'logs', '-n', '5');
    expect(r.stdout).not.toMatch(/\u001b\]0;PWNED/);
  });
});

describe('traced config', () => {
  it('set keeps a symlinked config.json a symlink (dotfile managers) and writes its target', async () => {
    const env = homes();
    const target = path.join(tempDir('atk-dot-'), 'traced-config.json');
    fs.writeFileSync(target, '{"logLevel":"warn"}\n');
    const file = path.join(env.TRACED_HOME as string, 'config.json');
    fs.symlinkSync(target, file);
    const r = await run(env, '/', 'config', 'set', 'logLevel', 'debug');
    expect(r.code).toBe(0);
    expect(fs.lstatSync(file).isSymbolicLink()).toBe(true);
    expect(JSON.parse(fs.readFileSync(target, 'utf8')).logLevel).toBe('debug');
  });

  it('concurrent `config set` of different keys loses none of them (each reported success)', async () => {
    const env = homes();
    const keys = [
      'log.maxFileMb',
      'log.keepFiles',
      'session.jsonlSyncMs',
      'files.settleMs',
      'capture.segmentSeconds',
      'capture.fps',
      'queue.concurrency',
      'queue.maxAttempts',
    ];
    const codes = await Promise.all(
      keys.map(
        (k) =>
          new Promise<number>((resolve) => {
            const c = spawn(process.execPath, [BIN, 'config', 'set', k, '7'], { env: { ...process.env, ...env }, stdio: 'ignore' });
            c.on('exit', (code) => resolve(code ?? -1));
          }),
      ),
    );
    expect(codes.every((c) => c === 0)).toBe(true);
    const r = await run(env, '/', 'config', 'list', '--json');
    const list = JSON.parse(r.stdout) as { key: string; set: boolean }[];
    const set = list.filter((e) => e.set).map((e) => e.key);
    expect(set.sort()).toEqual([...keys].sort());
  }, 60_000);
});

const hasTomllib = spawnSync('python3', ['-c', 'import tomllib']).status === 0;
describe.skipIf(!hasTomllib)('traced mcp install --client codex', () => {
  it('a config.toml whose mcp_servers is an inline table stays valid TOML (or is refused untouched)', async () => {
    const env = homes();
    const file = path.join(env.HOME as string, '.codex', 'config.toml');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const before = 'mcp_servers = { other = { command = "y" } }\n';
    fs.writeFileSync(file, before);
    const r = await run(env, '/', 'mcp', 'install', '--client', 'codex');
    const check = spawnSync('python3', ['-c', 'import tomllib,sys; tomllib.load(open(sys.argv[1],"rb"))', file], { encoding: 'utf8' });
    if (r.code === 0) expect(check.stderr).toBe('');
    else expect(fs.readFileSync(file, 'utf8')).toBe(before);
  });
});
