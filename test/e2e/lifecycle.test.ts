/**
 * The daemon's lifecycle with real processes: `traced daemon status|stop|restart`
 * (over the socket, and by signal when the socket is gone), nothing left running
 * after a stop (processes counted by their TRACED_HOME), a pid in a stale lock
 * file never signalled unless it is a traced daemon, a CLI of another version
 * restarting an idle daemon and leaving a recording one alone, and the display
 * of the caller (not of the daemon's start) used by `devices` and by a session.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { VERSION } from '../../src/version.js';
import { BIN, cli, type Home, killHomeDaemon, makeHome, makeRepo, ROOT, tempDir, waitFor } from '../helpers/env.js';
import { startXvfb } from '../helpers/xvfb.js';

/** Processes whose environment has this TRACED_HOME: the daemon and every child it started (ffmpeg, probes). */
function processesOf(home: Home): number[] {
  const needle = Buffer.from(`TRACED_HOME=${home.home}\0`);
  const pids: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const env = fs.readFileSync(`/proc/${d}/environ`);
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      if (env.includes(needle) && !/^\d+ \(.*\) Z/.test(stat)) pids.push(Number(d));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

const homes: Home[] = [];
function home(extra: NodeJS.ProcessEnv = {}): Home {
  const h = makeHome(extra);
  homes.push(h);
  return h;
}
afterAll(() => {
  for (const h of homes) killHomeDaemon(h);
});

// Each test runs a dozen CLI processes and starts daemons one after another; beside other e2e files on two cores that takes
// over the default minute (no timing is judged here).
vi.setConfig({ testTimeout: 180_000 });

describe('traced daemon status|stop|restart', () => {
  it('reports, stops gracefully with nothing left behind, restarts under a new pid', async () => {
    const h = home();
    const none = await cli(h, ['daemon', 'status', '--json']);
    expect(none.code).toBe(3);
    expect(none.json).toMatchObject({ running: false, socket: h.socket });
    expect(processesOf(h)).toEqual([]);

    expect((await cli(h, ['status'])).code).toBe(0); // starts one
    const st = await cli(h, ['daemon', 'status', '--json']);
    expect(st.code, st.stderr).toBe(0);
    expect(st.json).toMatchObject({ running: true, answering: true, version: VERSION, cli_version: VERSION, socket: h.socket, recording: null });
    expect(st.json.uptime_ms).toBeGreaterThanOrEqual(0);
    expect(processesOf(h)).toContain(st.json.pid);
    const human = await cli(h, ['daemon', 'status']);
    expect(human.stdout).toMatch(new RegExp(`running: pid ${st.json.pid}, version ${VERSION.replace(/\./g, '\\.')}, up `));

    const restarted = await cli(h, ['daemon', 'restart', '--json']);
    expect(restarted.code, restarted.stderr).toBe(0);
    expect(restarted.json.stopped).toMatchObject({ running: true, pid: st.json.pid, how: 'socket' });
    expect(restarted.json.started.pid).not.toBe(st.json.pid);
    expect(processesOf(h)).toEqual([restarted.json.started.pid]);

    const stop = await cli(h, ['daemon', 'stop', '--json']);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.json).toMatchObject({ running: true, pid: restarted.json.started.pid, how: 'socket' });
    expect(processesOf(h)).toEqual([]);
    expect(fs.existsSync(h.socket)).toBe(false);
    expect(fs.existsSync(path.join(h.home, 'run', 'traced.lock'))).toBe(false);
    const again = await cli(h, ['daemon', 'stop']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/no daemon was running/);
  });

  it('refuses to stop a recording daemon without --force; with it, ends the session and leaves no process', async () => {
    const h = home();
    const repo = await makeRepo();
    const start = await cli(h, ['start', '--profile', 'events', '--json'], { cwd: repo });
    expect(start.code, start.stderr).toBe(0);
    const id = start.json.session.id as string;
    const before = processesOf(h);
    expect(before.length).toBeGreaterThanOrEqual(1);
    for (const verb of ['stop', 'restart']) {
      const r = await cli(h, ['daemon', verb, '--json']);
      expect(r.code).toBe(5);
      expect(r.json.error).toMatchObject({ code: 'TRACED_SESSION_ACTIVE', data: { session: id } });
    }
    const st = await cli(h, ['daemon', 'status', '--json']);
    expect(st.json.recording).toBe(id);
    const forced = await cli(h, ['daemon', 'stop', '--force', '--json']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.json).toMatchObject({ how: 'socket', recording: id });
    expect(processesOf(h)).toEqual([]);
    // The session was ended by the stop, not left for recovery.
    const shown = await cli(h, ['show', id, '--json']);
    expect(shown.json.session.state, shown.stdout).toBe('ended');
    await cli(h, ['daemon', 'stop']);
  });

  it('stops by SIGTERM to the lock file pid when the socket is gone, and never signals a pid that is not traced', async () => {
    const h = home();
    expect((await cli(h, ['status'])).code).toBe(0);
    const pid = Number(fs.readFileSync(path.join(h.home, 'run', 'traced.lock'), 'utf8'));
    fs.unlinkSync(h.socket);
    const st = await cli(h, ['daemon', 'status', '--json']);
    expect(st.json).toMatchObject({ running: true, answering: false, pid });
    const r = await cli(h, ['daemon', 'stop', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ running: true, pid, how: 'sigterm' });
    expect(processesOf(h)).toEqual([]);

    // A lock file left behind whose pid now belongs to someone else's process.
    const bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
    fs.mkdirSync(path.join(h.home, 'run'), { recursive: true });
    fs.writeFileSync(path.join(h.home, 'run', 'traced.lock'), String(bystander.pid));
    const s2 = await cli(h, ['daemon', 'stop', '--json']);
    expect(s2.code).toBe(0);
    expect(s2.json.running).toBe(false);
    expect(bystander.exitCode).toBeNull();
    expect(bystander.signalCode).toBeNull();
    bystander.kill('SIGKILL');
  });
});

/** A copy of this install that says it is another version: bin and dist as they are, package.json changed. */
function otherVersion(version: string): string {
  const dir = tempDir('tr-old-');
  fs.cpSync(path.join(ROOT, 'bin'), path.join(dir, 'bin'), { recursive: true });
  fs.cpSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true });
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ ...pkg, version }));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  return path.join(dir, 'bin', 'traced.js');
}

function oldCli(bin: string, h: Home, args: string[], cwd = ROOT) {
  return spawnSync(process.execPath, [bin, ...args], { env: h.env, cwd, encoding: 'utf8', timeout: 30_000 });
}

describe('version check on connect', () => {
  const oldBin = otherVersion('0.0.9-old');

  it('restarts an idle daemon of another version, and says so', async () => {
    const h = home();
    expect(oldCli(oldBin, h, ['status']).status).toBe(0);
    const old = JSON.parse(oldCli(oldBin, h, ['daemon', 'status', '--json']).stdout);
    expect(old.version).toBe('0.0.9-old');
    const r = await cli(h, ['status', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/restarted the daemon: it was 0\.0\.9-old/);
    expect(r.json.daemon.version).toBe(VERSION);
    expect(r.json.daemon.pid).not.toBe(old.pid);
    expect(processesOf(h)).toEqual([r.json.daemon.pid]);
    // The same version: no note, no restart.
    const again = await cli(h, ['status', '--json']);
    expect(again.stderr).toBe('');
    expect(again.json.daemon.pid).toBe(r.json.daemon.pid);
    await cli(h, ['daemon', 'stop']);
  });

  it('leaves a daemon that records running and says what to do', async () => {
    const h = home();
    const repo = await makeRepo();
    const start = oldCli(oldBin, h, ['start', '--profile', 'events', '--json'], repo);
    expect(start.status, start.stderr).toBe(0);
    const id = JSON.parse(start.stdout).session.id;
    const old = JSON.parse(oldCli(oldBin, h, ['daemon', 'status', '--json']).stdout);
    const r = await cli(h, ['status', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`0\\.0\\.9-old.*keeps running while session ${id} records.*traced daemon restart`));
    expect(r.json.daemon.pid).toBe(old.pid);
    await cli(h, ['daemon', 'stop', '--force']);
    expect(processesOf(h)).toEqual([]);
  });
});

const hasX = spawnSync('sh', ['-c', 'command -v Xvfb && command -v xwininfo && command -v ffmpeg']).status === 0;
if (!hasX) {
  if (process.env.CI === 'true') throw new Error('CI: Xvfb, xwininfo (x11-utils) and ffmpeg are needed (apt-get install xvfb x11-utils ffmpeg)');
  console.warn('SKIPPED capture-environment tests: Xvfb, xwininfo or ffmpeg is missing');
}

describe("the caller's display, not the daemon's", () => {
  it.skipIf(!hasX)('a daemon started without DISPLAY lists and records the display of the shell that asks', async () => {
    const { n, proc: xvfb } = await startXvfb('640x480x24');
    try {
      const h = home();
      expect(h.env.DISPLAY).toBeUndefined();
      expect((await cli(h, ['status'])).code).toBe(0); // the daemon starts with no DISPLAY
      const without = await cli(h, ['devices', '--json']);
      expect(without.json.displays).toEqual([]);
      const withDisplay: Home = { ...h, env: { ...h.env, DISPLAY: `:${n}` } };
      const devs = await cli(withDisplay, ['devices', '--json']);
      expect(devs.code, devs.stderr).toBe(0);
      expect(devs.json.displays).toEqual([expect.objectContaining({ id: 'display:1', width: 640, height: 480, name: `:${n}` })]);
      // The daemon itself still has no DISPLAY: the caller's went with the request.
      const daemonPid = (await cli(h, ['daemon', 'status', '--json'])).json.pid;
      expect(fs.readFileSync(`/proc/${daemonPid}/environ`, 'latin1').split('\0')).not.toContain(`DISPLAY=:${n}`);

      const repo = await makeRepo();
      const start = await cli(withDisplay, ['start', '--channel', 'display:1', '--channel', 'files', '--json'], { cwd: repo });
      expect(start.code, start.stderr).toBe(0);
      const ffmpeg = await waitFor(
        () =>
          processesOf(h).find((p) => {
            const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'latin1').split('\0');
            return cmd.some((a) => /ffmpeg$/.test(a)) && cmd.includes('x11grab') && cmd.some((a) => a.startsWith(`:${n}`));
          }),
        { what: `ffmpeg grabbing :${n}`, timeoutMs: 15_000 },
      );
      expect(fs.readFileSync(`/proc/${ffmpeg}/environ`, 'latin1').split('\0')).toContain(`DISPLAY=:${n}`);
      const status = await cli(h, ['status', '--json']);
      expect(JSON.stringify(status.json)).toMatch(/display:1/);
      expect((await cli(h, ['stop'])).code).toBe(0);
      const stop = await cli(h, ['daemon', 'stop', '--json']);
      expect(stop.code).toBe(0);
      expect(processesOf(h)).toEqual([]);
    } finally {
      xvfb.kill('SIGKILL');
    }
  });

  it('refuses a capture environment with control characters at the socket', async () => {
    const h = home({ DISPLAY: ':1\n' });
    const r = await cli(h, ['devices', '--json']);
    expect(r.code).toBe(1);
    expect(r.json.error.code).toMatch(/TRACED_IPC_BAD_FRAME|TRACED_INVALID_PARAMS/);
    await cli({ ...h, env: { ...h.env, DISPLAY: undefined } }, ['daemon', 'stop']);
  });
});

void BIN;
