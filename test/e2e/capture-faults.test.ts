/**
 * Media capture under the things users do and the things that go wrong:
 * pause/resume, a password manager taking focus, and a disk that fills up.
 * Real Xvfb, PulseAudio, ffmpeg and daemon processes; the full disk is a
 * small tmpfs mounted as TRACED_HOME.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHome, makeRepo, startDaemonProc, stopDaemonProc, waitFor, type DaemonProc, type Home } from '../helpers/env.js';
import { RawClient } from '../helpers/raw-client.js';
import { decodes } from '../helpers/media.js';
import { rigMissing, startRig, type Rig } from '../helpers/rig.js';
import { fillDisk, mountTmpfs, type Tmpfs } from '../helpers/tmpfs.js';

const skip = rigMissing();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Seg {
  channel_id: string;
  seq: number;
  path: string;
  start_offset_ms: number;
  duration_ms: number;
}

async function segmentsOf(home: Home, id: string): Promise<Seg[]> {
  const { default: Database } = await import('better-sqlite3');
  const sql = new Database(path.join(home.home, 'traced.db'), { readonly: true });
  try {
    return sql.prepare('SELECT * FROM segments WHERE session_id = ? ORDER BY channel_id, seq').all(id) as Seg[];
  } finally {
    sql.close();
  }
}

/** Milliseconds of [a0, a1] that fall inside [b0, b1]. */
function overlap(a0: number, a1: number, b0: number, b1: number): number {
  return Math.max(0, Math.min(a1, b1) - Math.max(a0, b0));
}

const channel = (summary: any, id: string) => summary.channels.find((c: any) => c.id === id);

describe.skipIf(!!skip)('media capture: pause, privacy, full disk', () => {
  let rig: Rig;
  let home: Home;
  let daemon: DaemonProc | undefined;

  beforeAll(async () => {
    rig = await startRig();
    rig.showText('nothing secret on this screen');
    home = makeHome({ DISPLAY: rig.display, PULSE_SERVER: rig.env.PULSE_SERVER, PULSE_RUNTIME_PATH: rig.env.PULSE_RUNTIME_PATH });
    fs.writeFileSync(
      path.join(home.home, 'config.json'),
      JSON.stringify({ capture: { segmentSeconds: 4 }, window: { pollMs: 250 }, privacy: { excludeWindows: ['keepassxc'] } }),
    );
    daemon = await startDaemonProc(home);
  });
  afterAll(async () => {
    await stopDaemonProc(daemon);
    rig?.stop();
  });

  it('pause stops the media children and resume restarts them; offsets stay on the session clock', async () => {
    const repo = await makeRepo();
    const c = await RawClient.connect(home.socket);
    const res = await c.call('start_session', {
      project: repo,
      channels: [
        { id: 'display:1', store: true },
        { id: 'mic:default', store: true },
      ],
    });
    expect(res.error).toBeUndefined();
    const id = res.result.session.id;
    const t0 = res.result.session.started_at;
    await sleep(6000);
    const paused = await c.call('pause_session', {});
    expect(paused.result.state).toBe('paused');
    const pauseAt = Date.now() - t0;
    expect(channel(paused.result, 'display:1').state).toBe('paused');
    // No capture ffmpeg of this session runs while paused (the indexer may be reading finished segments).
    expect(spawnSync('pgrep', ['-f', `${id}/(display-1|mic-default)/%05d`]).status).toBe(1);
    await sleep(6000);
    const resumeAt = Date.now() - t0;
    const resumed = await c.call('resume_session', {});
    expect(resumed.result.state).toBe('recording');
    await waitFor(async () => channel((await c.call('status')).result.session, 'display:1').state === 'running', { what: 'display running again' });
    await sleep(6000);
    const stopped = await c.call('stop_session', {});
    c.close();
    const segs = await segmentsOf(home, id);
    for (const ch of ['display:1', 'mic:default']) {
      const mine = segs.filter((s) => s.channel_id === ch);
      // Nothing recorded inside the pause (a few hundred ms of slack for the stop and start of ffmpeg).
      const inPause = mine.reduce((a, s) => a + overlap(s.start_offset_ms, s.start_offset_ms + s.duration_ms, pauseAt + 500, resumeAt - 500), 0);
      expect(inPause, `${ch} recorded ${inPause} ms while paused`).toBe(0);
      // Media after resume sits after the pause on the session clock, not back at zero.
      const after = mine.filter((s) => s.start_offset_ms >= resumeAt - 1000);
      expect(after.length, `${ch} segments after resume`).toBeGreaterThanOrEqual(1);
      expect(after[0]!.start_offset_ms).toBeLessThan(resumeAt + 2500);
      // Each run covers its span without holes: from its first packet to the pause (or the stop).
      const total = mine.reduce((a, s) => a + s.duration_ms, 0);
      const first = mine[0]!;
      expect(first.start_offset_ms, `${ch} starts within 2.5 s of the session`).toBeLessThan(2500);
      const spans = pauseAt - first.start_offset_ms + (stopped.result.duration_ms - after[0]!.start_offset_ms);
      expect(Math.abs(total - spans), `${ch}: ${total} ms of media for ${spans} ms of recording`).toBeLessThan(1500);
      for (const s of mine) expect(decodes(path.join(home.home, 'sessions', id, s.path)), s.path).toBe(true);
    }
  }, 60_000);

  it('a focused password manager stops screen frames until focus leaves it; the gap is an event', async () => {
    const repo = await makeRepo();
    const editor = rig.openWindow('editor - main.ts');
    const vault = rig.openWindow('KeePassXC - vault.kdbx');
    editor.focus();
    const c = await RawClient.connect(home.socket);
    const res = await c.call('start_session', {
      project: repo,
      channels: [
        { id: 'display:1', store: true },
        { id: 'window', store: true },
      ],
    });
    expect(res.error).toBeUndefined();
    const id = res.result.session.id;
    const t0 = res.result.session.started_at;
    await sleep(5000);
    vault.focus();
    const holdFrom = Date.now() - t0;
    await waitFor(async () => channel((await c.call('status')).result.session, 'display:1').state === 'paused', { what: 'privacy hold', timeoutMs: 5000 });
    expect(spawnSync('pgrep', ['-f', `${id}/display-1/%05d`]).status).toBe(1);
    await sleep(5000);
    editor.focus();
    const holdTo = Date.now() - t0;
    await waitFor(async () => channel((await c.call('status')).result.session, 'display:1').state === 'running', {
      what: 'display running after the hold',
      timeoutMs: 10_000,
    });
    await sleep(5000);
    await c.call('stop_session', {});
    const tl = await c.call('get_timeline', { session: id, types: ['capture.privacy_hold', 'capture.gap', 'window.focus'] });
    c.close();
    vault.close();
    editor.close();
    const events = tl.result.events as any[];
    expect(events.some((e) => e.type === 'window.focus' && /KeePassXC/.test(e.data.title))).toBe(true);
    const hold = events.find((e) => e.type === 'capture.privacy_hold');
    expect(hold?.data.channel).toBe('display:1');
    const gap = events.find((e) => e.type === 'capture.gap' && /privacy/.test(e.data.reason));
    expect(gap, 'privacy gap event').toBeDefined();
    expect(gap.offset_ms).toBeGreaterThanOrEqual(holdFrom - 200);
    expect(gap.offset_ms).toBeLessThan(holdFrom + 2000);
    expect(gap.data.duration_ms).toBeGreaterThan(holdTo - holdFrom - 2000);
    const segs = (await segmentsOf(home, id)).filter((s) => s.channel_id === 'display:1');
    // No frames while the vault had focus (allowing for the 250 ms focus poll and ffmpeg's start).
    const leaked = segs.reduce((a, s) => a + overlap(s.start_offset_ms, s.start_offset_ms + s.duration_ms, holdFrom + 1000, holdTo - 200), 0);
    expect(leaked, `display recorded ${leaked} ms while the vault had focus`).toBe(0);
    expect(segs.some((s) => s.start_offset_ms >= holdTo - 500)).toBe(true);
    expect(segs.some((s) => s.start_offset_ms + s.duration_ms <= holdFrom + 1000)).toBe(true);
  }, 60_000);

  it('SIGTERM while recording (what a service manager sends): the session ends cleanly with its last segment registered', async () => {
    const c = await RawClient.connect(home.socket);
    const res = await c.call('start_session', {
      project: await makeRepo(),
      channels: [
        { id: 'display:1', store: true },
        { id: 'mic:default', store: true },
      ],
    });
    const id = res.result.session.id;
    const t0 = res.result.session.started_at;
    c.close();
    await sleep(6500); // one 4 s segment done, the next half way
    const killAt = Date.now() - t0;
    daemon!.child.kill('SIGTERM');
    expect(await daemon!.exited).toBe(0);
    const { default: Database } = await import('better-sqlite3');
    const sql = new Database(path.join(home.home, 'traced.db'), { readonly: true });
    const row = sql.prepare('SELECT state, ended_at FROM sessions WHERE id = ?').get(id) as any;
    const segs = sql.prepare('SELECT * FROM segments WHERE session_id = ? ORDER BY channel_id, seq').all(id) as Seg[];
    sql.close();
    expect(row.state).toBe('ended');
    for (const ch of ['display:1', 'mic:default']) {
      const mine = segs.filter((g) => g.channel_id === ch);
      expect(mine.length, ch).toBeGreaterThanOrEqual(2);
      const end = Math.max(...mine.map((g) => g.start_offset_ms + g.duration_ms));
      expect(killAt - end, `${ch} ends at ${end} ms, SIGTERM at ${killAt} ms`).toBeLessThan(1500);
      for (const g of mine) expect(decodes(path.join(home.home, 'sessions', id, g.path)), g.path).toBe(true);
    }
    daemon = await startDaemonProc(home);
    const shown = await RawClient.connect(home.socket);
    expect((await shown.call('get_session', { session: id })).result.session.state).toBe('ended');
    shown.close();
  }, 60_000);

  describe('a full disk', () => {
    let disk: Tmpfs | string = 'not mounted';
    let fullHome: Home;
    let fullDaemon: DaemonProc | undefined;

    beforeAll(async () => {
      disk = mountTmpfs(24, 'the full-disk test');
      if (typeof disk === 'string') return;
      fullHome = makeHome({ DISPLAY: rig.display, TRACED_HOME: disk.dir });
      fullHome.home = disk.dir;
      fullHome.socket = path.join(disk.dir, 'run', 'traced.sock');
      fs.writeFileSync(path.join(disk.dir, 'config.json'), JSON.stringify({ capture: { segmentSeconds: 3, restartMaxMs: 2000 } }));
      fullDaemon = await startDaemonProc(fullHome);
    });
    afterAll(async () => {
      await stopDaemonProc(fullDaemon);
      if (typeof disk !== 'string') disk.unmount();
    });

    it('capture stops with a clear error in status, the database stays intact, and recording resumes when space returns', async (ctx) => {
      if (typeof disk === 'string') return ctx.skip();
      const mnt = disk.dir;
      const repo = await makeRepo();
      const c = await RawClient.connect(fullHome.socket);
      const res = await c.call('start_session', {
        project: repo,
        channels: [
          { id: 'display:1', store: true },
          { id: 'files', store: true },
        ],
      });
      expect(res.error).toBeUndefined();
      const id = res.result.session.id;
      await waitFor(async () => channel((await c.call('status')).result.session, 'display:1').segments >= 1, { what: 'a first segment', timeoutMs: 15_000 });

      // Fill the disk to the last byte.
      const filler = path.join(mnt, 'filler');
      fillDisk(filler);

      const full = await waitFor(
        async () => {
          const st = (await c.call('status')).result;
          const d = channel(st.session, 'display:1');
          return d.state === 'failed' && /disk full/.test(d.detail) ? st : undefined;
        },
        { what: 'display:1 failed with "disk full"', timeoutMs: 30_000 },
      );
      expect(full.daemon.storage.problem.code).toBe('TRACED_DISK_FULL');
      expect(full.daemon.storage.free_bytes).toBeLessThan(1024 * 1024);
      // An event pushed now is either stored or refused with the disk-full code; the daemon answers either way.
      const pushed = await c.call('ingest_event', { channel: 'editor', type: 'editor.note', data: { text: 'written while the disk is full' } });
      if (pushed.error) expect(pushed.error.code).toBe('TRACED_DISK_FULL');
      expect((await c.call('ping')).result).toBeDefined();
      const before = (await segmentsOf(fullHome, id)).length;
      {
        const { default: Database } = await import('better-sqlite3');
        const sql = new Database(path.join(fullHome.home, 'traced.db'), { readonly: true });
        expect(sql.pragma('integrity_check', { simple: true })).toBe('ok');
        sql.close();
      }

      // Space returns: recording goes on by itself.
      fs.rmSync(filler);
      const back = await waitFor(
        async () => {
          const st = (await c.call('status')).result;
          return channel(st.session, 'display:1').state === 'running' && st.daemon.storage.problem === null ? st : undefined;
        },
        { what: 'display:1 running again', timeoutMs: 20_000 },
      );
      expect(back.session.state).toBe('recording');
      await waitFor(async () => (await segmentsOf(fullHome, id)).length > before, { what: 'a segment after the disk full', timeoutMs: 15_000 });
      const gap = await waitFor(
        async () => {
          const t = await c.call('get_timeline', { session: id, types: ['capture.gap'] });
          return t.result.events.find((e: any) => /disk full/.test(e.data.reason));
        },
        { what: 'a disk-full gap event' },
      );
      expect(gap.data.channel).toBe('display:1');
      const ok = await c.call('ingest_event', { channel: 'editor', type: 'editor.note', data: { text: 'after space returned' } });
      expect(ok.error).toBeUndefined();
      const stopped = await c.call('stop_session', {});
      expect(stopped.error).toBeUndefined();
      expect(stopped.result.state).toBe('ended');
      c.close();
      const segs = await segmentsOf(fullHome, id);
      for (const s of segs) expect(decodes(path.join(fullHome.home, 'sessions', id, s.path)), s.path).toBe(true);
      const { default: Database } = await import('better-sqlite3');
      const sql = new Database(path.join(fullHome.home, 'traced.db'), { readonly: true });
      expect(sql.pragma('integrity_check', { simple: true })).toBe('ok');
      sql.close();
      expect(fullDaemon?.child.exitCode, 'the daemon kept running').toBeNull();
    }, 120_000);
  });
});
