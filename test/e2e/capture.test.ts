import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, makeHome, makeRepo, startDaemonProc, stopDaemonProc, waitFor, type DaemonProc, type Home } from '../helpers/env.js';
import { RawClient } from '../helpers/raw-client.js';
import { decodes, meanDb, probeDuration } from '../helpers/media.js';
import { rigMissing, startRig, type Rig } from '../helpers/rig.js';

const skip = rigMissing();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!!skip)('media capture on Xvfb + PulseAudio', () => {
  let rig: Rig;
  let home: Home;
  let daemon: DaemonProc | undefined;

  beforeAll(async () => {
    rig = await startRig();
    rig.showText('error TS2345: Argument of type string is not assignable');
    home = makeHome({ DISPLAY: rig.display, PULSE_SERVER: rig.env.PULSE_SERVER, PULSE_RUNTIME_PATH: rig.env.PULSE_RUNTIME_PATH });
    fs.writeFileSync(path.join(home.home, 'config.json'), JSON.stringify({ capture: { segmentSeconds: 10, stallMs: 5000 }, window: { pollMs: 500 } }));
    daemon = await startDaemonProc(home);
  });
  afterAll(async () => {
    await stopDaemonProc(daemon);
    rig?.stop();
  });

  it('records a 30 s full session: decodable segments, full duration, speech where spoken, one clock; a missing device and a killed ffmpeg do not stop it', async () => {
    const repo = await makeRepo();
    const c = await RawClient.connect(home.socket);
    const res = await c.call('start_session', {
      project: repo,
      channels: [
        { id: 'display:1', store: true },
        { id: 'mic:default', store: true },
        { id: 'mic:no_such_source', store: true },
        { id: 'files', store: true },
      ],
    });
    expect(res.error).toBeUndefined();
    const id = res.result.session.id;
    const t0 = Date.now();
    const ch = (s: any, cid: string) => s.channels.find((x: any) => x.id === cid);
    // The missing device is reported with its code; the others record.
    expect(ch(res.result.session, 'mic:no_such_source').state).toBe('unavailable');
    expect(ch(res.result.session, 'mic:no_such_source').detail).toMatch(/^TRACED_CAPTURE_DEVICE_UNAVAILABLE/);
    expect(ch(res.result.session, 'display:1').state).toBe('running');
    expect(ch(res.result.session, 'mic:default').state).toBe('running');

    await sleep(7000 - (Date.now() - t0));
    const spokeAt = Date.now() - res.result.session.started_at;
    await rig.speak('the cache invalidation is broken again, hello world testing one two three');
    const spokeEnd = Date.now() - res.result.session.started_at;

    // Kill the mic's ffmpeg alone: the channel restarts and the gap is an event.
    await sleep(17_000 - (Date.now() - t0));
    // The capture ffmpeg (its output pattern is %05d), not the indexer reading finished segments.
    const pids = execFileSync('pgrep', ['-f', `${id}/mic-default/%05d`], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map(Number);
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    const gap = await waitFor(
      async () => {
        const t = await c.call('get_timeline', { session: id, types: ['capture'] });
        return t.result.events.find((e: any) => e.type === 'capture.gap' && e.data.channel === 'mic:default');
      },
      { timeoutMs: 15_000, what: 'capture.gap event' },
    );
    expect(gap.data.duration_ms).toBeGreaterThan(0);
    expect(gap.data.duration_ms).toBeLessThan(10_000);
    const st = await c.call('status');
    expect(ch(st.result.session, 'mic:default').state).not.toBe('failed');

    await sleep(31_000 - (Date.now() - t0));
    const stopped = await c.call('stop_session', {});
    expect(stopped.error).toBeUndefined();
    c.close();

    const db = await cli(home, ['call', 'get_session', JSON.stringify({ session: id })]);
    expect(db.json.session.state).toBe('ended');
    const dir = path.join(home.home, 'sessions', id);
    // Segments from the DB (registered, hashed) for each channel.
    const { default: Database } = await import('better-sqlite3');
    const sql = new Database(path.join(home.home, 'traced.db'), { readonly: true });
    const segs = sql.prepare('SELECT * FROM segments WHERE session_id = ? ORDER BY channel_id, seq').all(id) as any[];
    sql.close();
    const video = segs.filter((s) => s.channel_id === 'display:1');
    const mic = segs.filter((s) => s.channel_id === 'mic:default');
    expect(video.length).toBeGreaterThanOrEqual(3);
    expect(mic.length).toBeGreaterThanOrEqual(3);
    for (const s of video) {
      const file = path.join(dir, s.path);
      expect(decodes(file), s.path).toBe(true);
      expect(Math.abs(probeDuration(file) * 1000 - s.duration_ms)).toBeLessThan(1000);
      expect(s.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(s.bytes).toBe(fs.statSync(file).size);
    }
    const recordingMs = stopped.result.duration_ms - (video[0]?.start_offset_ms ?? 0);
    const videoMs = video.reduce((a, s) => a + s.duration_ms, 0);
    expect(Math.abs(videoMs - recordingMs)).toBeLessThan(2000);
    // One clock: display and mic both start within a second of each other.
    expect(Math.abs((video[0]?.start_offset_ms ?? 0) - (mic[0]?.start_offset_ms ?? 0))).toBeLessThan(1000);
    // Speech energy where it was spoken, silence elsewhere.
    const seg = mic.find((s) => s.start_offset_ms <= spokeAt && s.start_offset_ms + s.duration_ms > spokeAt + 1000);
    expect(seg).toBeDefined();
    const micFile = path.join(dir, seg.path);
    const from = (spokeAt - seg.start_offset_ms) / 1000;
    const to = Math.min((spokeEnd - seg.start_offset_ms) / 1000, seg.duration_ms / 1000);
    expect(meanDb(micFile, from, to)).toBeGreaterThan(-50);
    const quiet = mic.find((s) => s.start_offset_ms + s.duration_ms < spokeAt - 500);
    if (quiet) expect(meanDb(path.join(dir, quiet.path), 0, quiet.duration_ms / 1000)).toBeLessThan(-60);
  }, 90_000);

  it('kill -9 of the daemon and its ffmpeg children: the recovered session keeps media up to ~2 s before the kill', async () => {
    const repo = await makeRepo();
    const c = await RawClient.connect(home.socket);
    const res = await c.call('start_session', {
      project: repo,
      channels: [
        { id: 'display:1', store: true },
        { id: 'mic:default', store: true },
      ],
    });
    const id = res.result.session.id;
    const started = res.result.session.started_at;
    c.close();
    await sleep(8000 + Math.random() * 6000);
    const killAt = Date.now() - started;
    const kids = execFileSync('pgrep', ['-f', id], { encoding: 'utf8' }).trim().split('\n').map(Number);
    daemon?.child.kill('SIGKILL');
    for (const pid of kids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // a short-lived helper that already ended
      }
    }
    await daemon?.exited;
    daemon = await startDaemonProc(home);
    const shown = await cli(home, ['show', id, '--json']);
    expect(shown.json.session.state).toBe('recovered');
    const { default: Database } = await import('better-sqlite3');
    const sql = new Database(path.join(home.home, 'traced.db'), { readonly: true });
    const segs = sql.prepare('SELECT * FROM segments WHERE session_id = ?').all(id) as any[];
    sql.close();
    for (const channel of ['display:1', 'mic:default']) {
      const mine = segs.filter((s) => s.channel_id === channel);
      expect(mine.length, channel).toBeGreaterThanOrEqual(1);
      const end = Math.max(...mine.map((s) => s.start_offset_ms + s.duration_ms));
      expect(killAt - end, `${channel} kept media up to ${end} ms, killed at ${killAt} ms`).toBeLessThan(2500);
      for (const s of mine) expect(decodes(path.join(home.home, 'sessions', id, s.path)), s.path).toBe(true);
    }
  }, 90_000);
});
