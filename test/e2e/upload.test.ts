/**
 * Uploads through crashes: real daemons recording real media (Xvfb +
 * PulseAudio), killed with SIGKILL again and again while they upload to the
 * local VideoDB server through the real SDK.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, makeHome, makeRepo, startDaemonProc, stopDaemonProc, waitFor, type DaemonProc, type Home } from '../helpers/env.js';
import { RawClient } from '../helpers/raw-client.js';
import { rigMissing, startRig, type Rig } from '../helpers/rig.js';
import { FakeVideoDB } from '../helpers/videodb-server.js';

const skip = rigMissing();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!!skip)('uploads through kill -9', () => {
  let rig: Rig;
  let server: FakeVideoDB;
  let home: Home;
  let daemon: DaemonProc | undefined;

  beforeAll(async () => {
    rig = await startRig();
    rig.showText('uploading while being killed');
    server = await new FakeVideoDB(7).start();
    server.faults = { error500Rate: 0.1, uploadDelayMs: 150, uploadsOnly: true };
    home = makeHome({ DISPLAY: rig.display, PULSE_SERVER: rig.env.PULSE_SERVER, PULSE_RUNTIME_PATH: rig.env.PULSE_RUNTIME_PATH, VIDEO_DB_API_KEY: 'good-key', TRACED_VIDEODB_URL: server.url });
    fs.writeFileSync(path.join(home.home, 'config.json'), JSON.stringify({ capture: { segmentSeconds: 2 }, queue: { baseDelayMs: 100, maxDelayMs: 1000, maxAttempts: 50 } }));
  });
  afterAll(async () => {
    await stopDaemonProc(daemon);
    await server?.stop();
    rig?.stop();
  });

  it('20 kills during recording and uploads: every stored segment uploaded once it is over, none lost, no duplicate jobs', async () => {
    const repo = await makeRepo();
    const kills = 20;
    for (let i = 0; i < kills; i++) {
      daemon = await startDaemonProc(home);
      const c = await RawClient.connect(home.socket);
      const res = await c.call('start_session', { project: repo, channels: [{ id: 'display:1', store: true }, { id: 'mic:default', store: true }] });
      expect(res.error, `start ${i}`).toBeUndefined();
      c.close();
      await sleep(2500 + Math.random() * 2000);
      const kids = execFileSync('pgrep', ['-P', String(daemon.child.pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
      daemon.child.kill('SIGKILL');
      for (const pid of kids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await daemon.exited;
    }
    // The last start recovers the last session and drains the queue with nobody doing anything.
    daemon = await startDaemonProc(home);
    const final = await waitFor(async () => {
      const q = (await cli(home, ['queue', 'status', '--json'])).json;
      return q.counts.pending === 0 && q.counts.in_flight === 0 ? q : undefined;
    }, { timeoutMs: 120_000, intervalMs: 500, what: 'the queue to drain' });
    expect(final.counts.failed).toBe(0);

    const { default: Database } = await import('better-sqlite3');
    const sql = new Database(path.join(home.home, 'traced.db'), { readonly: true });
    const segs = sql.prepare('SELECT session_id, channel_id, seq, path FROM segments').all() as any[];
    const jobs = sql.prepare("SELECT * FROM upload_jobs WHERE kind = 'segment'").all() as any[];
    const sessions = sql.prepare('SELECT id, state FROM sessions').all() as any[];
    sql.close();
    expect(sessions.length).toBe(kills);
    expect(sessions.every((s) => s.state === 'recovered')).toBe(true);
    // Every segment file on disk is registered (none lost) …
    let files = 0;
    for (const s of sessions) {
      for (const ch of ['display-1', 'mic-default']) {
        const dir = path.join(home.home, 'sessions', s.id, ch);
        if (!fs.existsSync(dir)) continue;
        for (const f of fs.readdirSync(dir).filter((n) => /^\d+\.(mkv|ogg)$/.test(n))) {
          files++;
          expect(segs.some((g) => g.session_id === s.id && g.path === path.join(ch, f)), `${s.id}/${ch}/${f} registered`).toBe(true);
        }
      }
    }
    expect(segs.length).toBe(files);
    expect(segs.length).toBeGreaterThanOrEqual(kills * 2);
    // … has exactly one job, done, whose remote media exists with its name.
    expect(jobs.length).toBe(segs.length);
    for (const g of segs) {
      const job = jobs.find((j) => j.session_id === g.session_id && j.channel_id === g.channel_id && j.segment_seq === g.seq);
      expect(job?.state, `${g.session_id}/${g.channel_id}/${g.seq}`).toBe('done');
      const media = server.media.find((m) => m.id === job.remote_id);
      expect(media?.name).toBe(`${g.session_id}/${g.channel_id}/${g.seq}`);
    }
    // Remote duplicates: at most one per kill that hit an upload in flight.
    const dupes = [...server.uploadsByName().values()].reduce((a, n) => a + (n - 1), 0);
    expect(dupes).toBeLessThanOrEqual(kills);
    console.log(`upload kill loop: ${segs.length} segments over ${kills} kills, ${dupes} remote duplicates, ${server.requests.filter((r) => r.status === 500).length} injected 500s`);
  }, 400_000);

  it('traced.db deleted between runs: sessions, segments, events and finished uploads come back from the session folders', async () => {
    const repo = await makeRepo();
    daemon ??= await startDaemonProc(home);
    const c = await RawClient.connect(home.socket);
    const res = await c.call('start_session', { project: repo, channels: [{ id: 'display:1', store: true }, { id: 'mic:default', store: true }, { id: 'files', store: true }] });
    expect(res.error).toBeUndefined();
    for (let i = 0; i < 5; i++) await c.call('ingest_event', { channel: 'editor', type: 'editor.note', data: { text: `note ${i} about invalidateCache` } });
    await sleep(5000);
    c.close();
    // `traced stop` waits for the session's uploads, showing progress, and says how they ended.
    const stopped = await cli(home, ['stop']);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stderr).toMatch(/uploading \[[#.]+\] \d+\/\d+/);
    expect(stopped.stdout).toMatch(/; \d+ uploads done/);
    const shown = await cli(home, ['show', 'last', '--json']);
    expect(shown.json.session.uploads.pending + shown.json.session.uploads.in_flight).toBe(0);
    expect(shown.json.session.uploads.done).toBeGreaterThanOrEqual(2);
    await waitFor(async () => {
      const q = (await cli(home, ['queue', 'status', '--json'])).json;
      return q.counts.pending === 0 && q.counts.in_flight === 0 ? q : undefined;
    }, { timeoutMs: 60_000, what: 'uploads of the last session' });
    const { default: Database } = await import('better-sqlite3');
    const snapshot = () => {
      const sql = new Database(path.join(home.home, 'traced.db'), { readonly: true });
      try {
        return {
          sessions: sql.prepare('SELECT id, project, state, started_at, ended_at FROM sessions ORDER BY id').all(),
          events: sql.prepare('SELECT session_id, seq, type, offset_ms, data FROM events ORDER BY session_id, seq').all(),
          segments: sql.prepare('SELECT session_id, channel_id, seq, path, start_offset_ms, duration_ms, bytes, sha256 FROM segments ORDER BY session_id, channel_id, seq').all(),
          done: sql.prepare("SELECT session_id, channel_id, segment_seq, remote_id FROM upload_jobs WHERE state = 'done' ORDER BY session_id, channel_id, segment_seq").all(),
        };
      } finally {
        sql.close();
      }
    };
    const before = snapshot();
    const uploadsBefore = server.media.length;
    expect(before.sessions.length).toBeGreaterThanOrEqual(1);
    await stopDaemonProc(daemon);
    daemon = undefined;
    for (const f of ['traced.db', 'traced.db-wal', 'traced.db-shm']) fs.rmSync(path.join(home.home, f), { force: true });

    daemon = await startDaemonProc(home);
    const found = await cli(home, ['search', 'invalidateCache', '--json']);
    expect(found.json.hits.length).toBe(5);
    await sleep(1500); // a queue that thought something was missing would be uploading by now
    const after = snapshot();
    expect(after.sessions).toEqual(before.sessions);
    expect(after.events).toEqual(before.events);
    expect(after.segments).toEqual(before.segments);
    expect(after.done).toEqual(before.done);
    const q = (await cli(home, ['queue', 'status', '--json'])).json;
    expect(q.counts.pending + q.counts.in_flight).toBe(0);
    expect(server.media.length, 'nothing uploaded twice').toBe(uploadsBefore);
  }, 120_000);
});
