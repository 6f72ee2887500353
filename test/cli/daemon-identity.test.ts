/**
 * `traced daemon stop` signals the pid in a stale lock file only when that
 * process is provably a traced daemon: its argv is `node [node flags]
 * …/bin/traced.js daemon` (or dist/cli/main.js, or an npm shim linking to
 * bin/traced.js). Real processes are started with look-alike command lines
 * (editors on the traced repo, `node -e` mentioning traced and daemon, a
 * renamed argv[0]) and must survive; a process shaped like the daemon is
 * stopped by SIGTERM. No daemon is started; homes are temp folders.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { reachPaths } from '../../src/config/setup.js';
import { stopDaemon } from '../../src/ipc/connect.js';
import { isDaemonArgv, looksLikeTraced } from '../../src/ipc/probe.js';
import { tempDir } from '../helpers/env.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

function homePaths() {
  const { paths } = reachPaths({ TRACED_HOME: tempDir('id-th-'), HOME: tempDir('id-h-'), PATH: process.env.PATH ?? '/usr/bin:/bin' });
  fs.mkdirSync(path.dirname(paths.lockFile), { recursive: true, mode: 0o700 });
  return paths;
}

async function started(cmd: string, args: string[], cwd = '/'): Promise<ChildProcess> {
  const c = spawn(cmd, args, { cwd, stdio: 'ignore' });
  children.push(c);
  // Until bash has exec'd, the command line is bash's: wait for the one under test.
  const first = cmd === 'bash' ? 'bash' : undefined;
  const deadline = Date.now() + 5000;
  while (first && Date.now() < deadline && fs.readFileSync(`/proc/${c.pid}/cmdline`, 'utf8').startsWith(first)) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 150));
  return c;
}

const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;

/** A stand-in for the daemon's entry script: sleeps until signalled. */
function fakeEntry(): { root: string; entry: string } {
  const root = tempDir('id-pkg-');
  const entry = path.join(root, 'bin', 'traced.js');
  fs.mkdirSync(path.dirname(entry));
  fs.writeFileSync(entry, 'setInterval(() => {}, 1000);\n');
  return { root, entry };
}

describe('isDaemonArgv', () => {
  it('accepts the shapes traced starts its daemon with and nothing that merely mentions it', () => {
    const yes = [
      ['/usr/bin/node', '/opt/traced/bin/traced.js', 'daemon'],
      ['node', '--enable-source-maps', '/home/u/traced/dist/cli/main.js', 'daemon'],
      ['/usr/local/bin/nodejs', '/x/bin/traced.js', 'daemon', '--json'],
    ];
    const no = [
      ['vim', '/home/u/src/traced/src/daemon/lock.ts'],
      ['vim /home/u/src/traced/src/daemon/lock.ts'],
      ['node', '-e', 'traced daemon'],
      ['node', '/x/bin/traced.js', 'status', 'daemon'],
      ['node', '/x/bin/traced.js'],
      ['python3', '/x/bin/traced.js', 'daemon'],
      ['node', '/x/bin/traced.jsx', 'daemon'],
      ['node', '/x/bin/not-traced.js', 'daemon'],
      ['bash', '-c', 'node /x/bin/traced.js daemon'],
      ['less', '/var/log/traced/daemon.log'],
      [],
    ];
    for (const a of yes) expect(isDaemonArgv(a), a.join(' ')).toBe(true);
    for (const a of no) expect(isDaemonArgv(a), a.join(' ')).toBe(false);
    // An npm shim is read through its link.
    expect(isDaemonArgv(['node', '/usr/bin/traced', 'daemon'], () => '/usr/lib/node_modules/traced/bin/traced.js')).toBe(true);
    expect(isDaemonArgv(['node', '/usr/bin/traced', 'daemon'], () => '/usr/bin/traced')).toBe(false);
  });
});

describe('daemon stop with a lock file naming a process that does not answer on the socket', () => {
  it('leaves look-alikes running: an editor on the traced repo, node -e naming traced daemon, a renamed argv[0]', async () => {
    const victims = [
      await started('bash', ['-c', 'exec -a "vim /home/u/src/traced/src/daemon/lock.ts" sleep 60']),
      await started(process.execPath, ['-e', 'setInterval(()=>{},1000) /* traced daemon */', 'traced', 'daemon']),
      await started('bash', ['-c', `exec -a node sleep 60`]),
    ];
    for (const v of victims) {
      expect(looksLikeTraced(v.pid as number)).toBe(false);
      const paths = homePaths();
      fs.writeFileSync(paths.lockFile, String(v.pid));
      const r = await stopDaemon(paths, { graceMs: 500 });
      expect(r).toMatchObject({ running: false, how: null });
      await new Promise((res) => setTimeout(res, 100));
      expect(alive(v)).toBe(true);
    }
  });

  it('stops a process shaped like the daemon by SIGTERM: absolute entry, and an npm-style shim run by a relative path', async () => {
    const { root, entry } = fakeEntry();
    const shimDir = path.join(root, 'shim');
    fs.mkdirSync(shimDir);
    fs.symlinkSync(entry, path.join(shimDir, 'traced'));
    const shapes = [
      await started(process.execPath, [entry, 'daemon']),
      await started(process.execPath, ['--no-warnings', path.join('shim', 'traced'), 'daemon'], root),
    ];
    for (const d of shapes) {
      expect(looksLikeTraced(d.pid as number)).toBe(true);
      const paths = homePaths();
      fs.writeFileSync(paths.lockFile, String(d.pid));
      const gone = new Promise((res) => d.once('exit', res));
      const r = await stopDaemon(paths, { graceMs: 5000 });
      expect(r).toMatchObject({ running: true, pid: d.pid, how: 'sigterm' });
      await gone;
      expect(d.signalCode).toBe('SIGTERM');
    }
  });
});
