/**
 * The window channel on a real X server (a private Xvfb, real xterms): the
 * focused window is watched with xev instead of polled — focus moves and
 * title changes are reported at once, an idle desktop costs no helper
 * process, a closed window does not stop the channel, and no xev outlives
 * the channel. Every xdotool/xprop call goes through a logging wrapper on
 * PATH, so the helper processes are counted, not guessed.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isWindowChange, WindowChannel } from '../../src/capture/window.js';
import { tempDir, waitFor } from '../helpers/env.js';
import { startXvfb } from '../helpers/xvfb.js';

const need = ['Xvfb', 'xterm', 'xdotool', 'xprop', 'xev'].filter((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0);
if (process.env.CI === 'true' && need.length) throw new Error(`CI: the window watch test needs ${need.join(', ')}`);
if (need.length) console.warn(`SKIPPED: the window watch test needs ${need.join(', ')} (apt-get install xvfb xterm xdotool x11-utils)`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('parsing xev', () => {
  it('only focus moves and title/class changes count', () => {
    expect(isWindowChange('FocusOut event, serial 18, synthetic NO, window 0x20000c,')).toBe(true);
    expect(isWindowChange('FocusIn event, serial 20, synthetic NO, window 0x20000c,')).toBe(true);
    expect(isWindowChange('    atom 0x27 (WM_NAME), time 687395, state PropertyNewValue')).toBe(true);
    expect(isWindowChange('    atom 0xf7 (_NET_WM_NAME), time 687395, state PropertyNewValue')).toBe(true);
    expect(isWindowChange('    atom 0x1a3 (_NET_WM_STATE), time 1, state PropertyNewValue')).toBe(false);
    expect(isWindowChange('PropertyNotify event, serial 18, synthetic NO, window 0x20000c,')).toBe(false);
  });
});

describe.skipIf(need.length > 0)('the window channel on a real X server', () => {
  let xvfb: ChildProcess;
  const windows: ChildProcess[] = [];
  let env: Record<string, string>;
  let log: string;
  let dir: string;
  let display = '';

  const open = async (title: string) => {
    const w = spawn('xterm', ['-title', title, '-geometry', '60x8+50+50', '-e', 'sleep 3600'], { env, stdio: 'ignore' });
    windows.push(w);
    const id = await waitFor(
      () =>
        spawnSync('xdotool', ['search', '--onlyvisible', '--name', `^${title}$`], { env, encoding: 'utf8' })
          .stdout.trim()
          .split('\n')[0],
      {
        what: `window ${title}`,
      },
    );
    return { id, w, focus: () => execFileSync('xdotool', ['windowfocus', '--sync', id], { env }) };
  };
  const calls = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).length : 0);
  const xevs = () =>
    spawnSync('pgrep', ['-x', 'xev'], { encoding: 'utf8' })
      .stdout.split('\n')
      .filter(Boolean)
      .filter((pid) => {
        try {
          return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`DISPLAY=${display}`);
        } catch {
          return false;
        }
      });

  beforeAll(async () => {
    dir = tempDir('window-watch-');
    log = path.join(dir, 'calls.log');
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    for (const tool of ['xdotool', 'xprop']) {
      const real = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
      fs.writeFileSync(path.join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> '${log}'\nexec '${real}' "$@"\n`, { mode: 0o755 });
    }
    env = { ...(process.env as Record<string, string>), DISPLAY: display, PATH: `${bin}:${process.env.PATH}` };
    const x = await startXvfb('800x600x24');
    xvfb = x.proc;
    display = x.display;
    env.DISPLAY = display;
    await waitFor(() => spawnSync('xdotool', ['getdisplaygeometry'], { env: { ...env, PATH: process.env.PATH as string } }).status === 0, { what: 'Xvfb' });
  });
  afterAll(() => {
    for (const w of windows) w.kill('SIGKILL');
    xvfb?.kill('SIGKILL');
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reports focus moves and title changes at once, spends nothing while idle, survives a closed window, leaves no xev', { timeout: 60_000 }, async () => {
    const a = await open('alpha-window');
    const b = await open('beta-window');
    a.focus();
    const seen: { title: string; at: number }[] = [];
    const health: string[] = [];
    const ch = new WindowChannel(1000);
    await ch.start({
      sessionId: 's',
      project: dir,
      sessionDir: dir,
      startedAt: Date.now(),
      logger: pino({ level: 'silent' }),
      env,
      emit: (_type, data) => seen.push({ title: String((data as { title: string }).title), at: Date.now() }),
      setHealth: (state) => health.push(state),
      registerSegment: () => undefined,
    });
    expect(health.at(-1)).toBe('running');
    await waitFor(() => seen.find((s) => s.title === 'alpha-window'), { what: 'alpha reported' });
    await waitFor(() => xevs().length === 1, { what: 'one xev watching' });

    // Idle: no helper process at all (a poll ran three a second).
    await sleep(500);
    const before = calls();
    await sleep(4000);
    expect(calls() - before).toBe(0);

    // A focus move and a title change are reported within a moment, not at the next poll.
    const t1 = Date.now();
    b.focus();
    const moved = await waitFor(() => seen.find((s) => s.title === 'beta-window'), { what: 'beta reported' });
    expect(moved.at - t1).toBeLessThan(900);
    await waitFor(() => xevs().length === 1, { what: 'xev moved to the new window' });
    const t2 = Date.now();
    execFileSync('xdotool', ['set_window', '--name', 'beta-renamed', b.id], { env });
    const renamed = await waitFor(() => seen.find((s) => s.title === 'beta-renamed'), { what: 'the new title' });
    expect(renamed.at - t2).toBeLessThan(900);

    // The focused window closes: the channel goes on (focus read again, polled while nothing has it).
    b.w.kill('SIGKILL');
    await sleep(1500);
    a.focus();
    await waitFor(() => seen.filter((s) => s.title === 'alpha-window').length === 2, { what: 'alpha again after beta closed', timeoutMs: 5000 });
    await waitFor(() => xevs().length === 1, { what: 'xev on alpha again' });

    await ch.stop();
    await waitFor(() => xevs().length === 0, { what: 'no xev after stop', timeoutMs: 3000 });
  });
});
