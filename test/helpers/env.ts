/**
 * Test environment helpers: temp homes, git repos, the real CLI and daemon as
 * child processes, and waiting for conditions. Everything lives in temp
 * directories, never the user's home.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin', 'traced.js');

export function tempDir(prefix: string): string {
  // Short paths under /tmp keep socket paths far below the sun_path limit.
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface Home {
  home: string;
  socket: string;
  env: NodeJS.ProcessEnv;
}

export function makeHome(extraEnv: NodeJS.ProcessEnv = {}): Home {
  const home = tempDir('th-');
  const env: NodeJS.ProcessEnv = { ...process.env, TRACED_HOME: home, TRACED_LOG_LEVEL: 'debug' };
  delete env.TRACED_SOCKET_DIR;
  delete env.DISPLAY;
  Object.assign(env, extraEnv);
  return { home, socket: path.join(home, 'run', 'traced.sock'), env };
}

export function git(cwd: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args,
      { cwd, env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' } },
      (err, stdout, stderr) => (err ? reject(new Error(`git ${args.join(' ')}: ${stderr}`)) : resolve(stdout)),
    );
  });
}

export async function makeRepo(): Promise<string> {
  const dir = tempDir('proj-');
  await git(dir, 'init', '-q', '-b', 'main');
  fs.writeFileSync(path.join(dir, 'README.md'), '# demo\n');
  fs.writeFileSync(path.join(dir, '.gitignore'), 'ignored/\n*.log\n');
  await git(dir, 'add', '.');
  await git(dir, 'commit', '-qm', 'initial commit');
  return dir;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  json: any;
}

export function cli(home: Home, args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: home.env, cwd: opts.cwd ?? ROOT, timeout: opts.timeoutMs ?? 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ code, stdout, stderr, json });
    });
  });
}

export async function waitFor<T>(fn: () => T | Promise<T>, opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${opts.what ?? 'condition'}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}

export function socketAnswers(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ path: socket });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface DaemonProc {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts `traced daemon` in the foreground as a child process and waits until its socket answers. */
export async function startDaemonProc(home: Home): Promise<DaemonProc> {
  const child = spawn(process.execPath, [BIN, 'daemon'], { env: home.env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let dead = false;
  void exited.then(() => (dead = true));
  await waitFor(
    async () => {
      if (dead) throw new Error(`daemon exited: ${err}`);
      return socketAnswers(home.socket);
    },
    { timeoutMs: 20_000, what: 'daemon socket' },
  );
  return { child, stderr: () => err + out, exited };
}

export async function stopDaemonProc(d: DaemonProc | undefined): Promise<void> {
  if (!d || d.child.exitCode !== null || d.child.signalCode !== null) return;
  d.child.kill('SIGTERM');
  const t = setTimeout(() => d.child.kill('SIGKILL'), 10_000);
  await d.exited;
  clearTimeout(t);
}

/** Kills any daemon a test left behind for this home (autostarted, detached). */
export function killHomeDaemon(home: Home): void {
  try {
    const pid = Number(fs.readFileSync(path.join(home.home, 'run', 'traced.lock'), 'utf8'));
    if (pid > 0) process.kill(pid, 'SIGKILL');
  } catch {
    // none running
  }
}
