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
    home = makeHome({
      DISPLAY: rig.display,
      PULSE_SERVER: rig.env.PULSE_SERVER,
      PULSE_RUNTIME_PATH: rig.env.PULSE_RUNTIME_PATH,
      VIDEO_DB_API_KEY: 'good-key',
      TRACED_VIDEODB_URL: server.url,
    });
    fs.writeFileSync(
      path.join(home.home, 'config.json'),
      JSON.stringify({ capture: { segmentSeconds: 2 }, queue: { baseDelayMs: 100, maxDelayMs: 1000, maxAttempts: 50 } }),
    );
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
      const res = await c.call('start_session', {
        project: repo,
        channels: [
          { id: 'display:1', store: true },
          { id: 'mic:default', store: true },
        ],
      });
      expect(res.error, `start ${i}`).toBeUndefined();
      c.close();
      await sleep(2500 + Math.random() * 2000);
      const kids = execFileSync('pgrep', ['-P', String(daemon.child.pid)], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .filter(Boolean)
        .map(Number);
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
    const final = await waitFor(
      async () => {
        const q = (await cli(home, ['queue', 'status', '--json'])).json;
        return q.counts.pending === 0 && q.counts.in_flight === 0 ? q : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500, what: 'the queue to drain' },
    );
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
          expect(
            segs.some((g) => g.session_id === s.id && g.path === path.join(ch, f)),
            `${s.id}/${ch}/${f} registered`,
          ).toBe(true);
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
    // Remote duplicates: none of a video (a kill's unknown upload is found by name); the contract has no audio
    // listing, so a kill that cuts off an audio create the server then acts on can still leave one.
    const dupesOf = (audio: boolean) => [...server.uploadsByName()].filter(([name]) => name.includes('/mic:') === audio).reduce((a, [, n]) => a + (n - 1), 0);
    const dupes = dupesOf(false) + dupesOf(true);
    expect(dupesOf(false), 'video duplicates').toBe(0);
    expect(dupesOf(true)).toBeLessThanOrEqual(kills);
    console.log(
      `upload kill loop: ${segs.length} segments over ${kills} kills, ${dupes} remote duplicates (${dupesOf(true)} audio), ${server.requests.filter((r) => r.status === 500).length} injected 500s`,
    );
  }, 400_000);

  it('traced.db deleted between runs: sessions, segments, events and finished uploads come back from the session folders', async () => {
    const repo = await makeRepo();
    daemon ??= await startDaemonProc(home);
    const c = await RawClient.connect(home.socket);
    const res = await c.call('start_session', {
      project: repo,
      channels: [
        { id: 'display:1', store: true },
        { id: 'mic:default', store: true },
        { id: 'files', store: true },
      ],
    });
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
    await waitFor(
      async () => {
        const q = (await cli(home, ['queue', 'status', '--json'])).json;
        return q.counts.pending === 0 && q.counts.in_flight === 0 ? q : undefined;
      },
      { timeoutMs: 60_000, what: 'uploads of the last session' },
    );
    // Indexing done too, so the snapshot holds everything the folders will have to give back.
    await waitFor(
      async () => {
        const ix = (await cli(home, ['status', '--json'])).json.indexer;
        return ix.ocr.pending_segments + ix.speech.pending_segments === 0 && ix.current === null ? true : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500, what: 'indexing to finish' },
    );
    const { default: Database } = await import('better-sqlite3');
    const snapshot = () => {
      const sql = new Database(path.join(home.home, 'traced.db'), { readonly: true });
      try {
        return {
          sessions: sql.prepare('SELECT id, project, state, started_at, ended_at FROM sessions ORDER BY id').all(),
          events: sql.prepare('SELECT session_id, seq, type, offset_ms, data FROM events ORDER BY session_id, seq').all(),
          segments: sql
            .prepare('SELECT session_id, channel_id, seq, path, start_offset_ms, duration_ms, bytes, sha256 FROM segments ORDER BY session_id, channel_id, seq')
            .all(),
          done: sql
            .prepare("SELECT session_id, channel_id, segment_seq, remote_id FROM upload_jobs WHERE state = 'done' ORDER BY session_id, channel_id, segment_seq")
            .all(),
          indexed: sql.prepare('SELECT session_id, channel_id, seq, kind, state, events FROM index_progress ORDER BY session_id, channel_id, seq, kind').all(),
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
    // The five notes, written within a second, are one moment of five hits.
    expect(found.json.hits.length).toBe(1);
    expect(found.json.hits[0].merged).toBe(5);
    await sleep(1500); // a queue that thought something was missing would be uploading by now
    const after = snapshot();
    expect(after.sessions).toEqual(before.sessions);
    expect(after.events).toEqual(before.events);
    expect(after.segments).toEqual(before.segments);
    expect(after.done).toEqual(before.done);
    expect(after.indexed).toEqual(before.indexed);
    const q = (await cli(home, ['queue', 'status', '--json'])).json;
    expect(q.counts.pending + q.counts.in_flight).toBe(0);
    expect(server.media.length, 'nothing uploaded twice').toBe(uploadsBefore);
  }, 120_000);

  it('after stop the session is exported to VideoDB and indexed; clips and cloud search use it; without an export a clip is cut locally; mp4 export muxes screen + audio', async () => {
    const repo = await makeRepo();
    daemon ??= await startDaemonProc(home);
    const c = await RawClient.connect(home.socket);
    const res = await c.call('start_session', {
      project: repo,
      channels: [
        { id: 'display:1', store: true },
        { id: 'mic:default', store: true },
      ],
    });
    const id = res.result.session.id;
    await sleep(2000);
    await c.call('ingest_event', { channel: 'editor', type: 'editor.note', data: { text: 'looking at the cache invalidation bug' } });
    // What the VideoDB spoken-word index will hold for this session's video.
    server.transcriptsByName.set(id, [{ start: 1.5, end: 3.25, text: 'the cache invalidation is broken again' }]);
    await sleep(4000);
    const stopped = await c.call('stop_session', {});
    expect(stopped.error).toBeUndefined();
    // stop waited for the export too
    expect(stopped.result.uploads.pending + stopped.result.uploads.in_flight).toBe(0);

    const exp = await c.call('export_session', { session: id, target: 'videodb' });
    expect(exp.error).toBeUndefined();
    expect(exp.result.export_status).toBe('exported');
    const media = server.media.find((m) => m.id === exp.result.video_id);
    expect(media?.name).toBe(id);
    expect(media?.filename).toMatch(/\.mp4$/);
    expect(exp.result.stream_url).toBe(media?.stream_url);
    expect(server.indexed.get(media!.id)).toContain('spoken_word');

    const clip = await c.call('get_clip', { session: id, from_ms: 1000, to_ms: 4000 });
    expect(clip.result).toMatchObject({ source: 'videodb', from_ms: 1000, to_ms: 4000 });
    expect(clip.result.stream_url).toContain(`${media!.id}-1-4`);

    const found = await c.call('search', { query: 'cache invalidation', session: id });
    const cloud = found.result.hits.filter((h: any) => h.source === 'videodb');
    const local = found.result.hits.filter((h: any) => h.source === 'local');
    expect(cloud.length).toBe(1);
    expect(cloud[0]).toMatchObject({ session_id: id, offset_ms: 1500, end_offset_ms: 3250, type: 'transcript.spoken' });
    expect(local.length).toBe(1);
    expect(local[0].type).toBe('editor.note');
    // "No results found." from the service is an empty result, not an error.
    const none = await c.call('search', { query: 'zebra quantum' });
    expect(none.error).toBeUndefined();
    expect(none.result.hits).toEqual([]);
    expect(none.result.warnings).toBeUndefined();

    // Local MP4: one video and one audio stream covering the recording.
    const mp4 = await c.call('export_session', { session: id, target: 'mp4' });
    expect(mp4.result.export_status).toBe('exported');
    const probe = JSON.parse(
      execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type:format=duration', '-of', 'json', mp4.result.file], { encoding: 'utf8' }),
    );
    expect(probe.streams.map((x: any) => x.codec_type).sort()).toEqual(['audio', 'video']);
    const { default: Database } = await import('better-sqlite3');
    const sql = new Database(path.join(home.home, 'traced.db'), { readonly: true });
    const mediaEnd = (sql.prepare('SELECT MAX(start_offset_ms + duration_ms) AS e FROM segments WHERE session_id = ?').get(id) as any).e;
    sql.close();
    expect(Math.abs(Number(probe.format.duration) * 1000 - mediaEnd)).toBeLessThan(1000);

    // Uploads paused: the next session is not exported yet, so its clip is cut locally.
    await c.call('queue_pause');
    const res2 = await c.call('start_session', {
      project: repo,
      channels: [
        { id: 'display:1', store: true },
        { id: 'mic:default', store: true },
      ],
    });
    await sleep(4000);
    await c.call('stop_session', {});
    const id2 = res2.result.session.id;
    const pending = await c.call('export_session', { session: id2, target: 'videodb' });
    expect(pending.result.export_status).toBe('exporting');
    const localClip = await c.call('get_clip', { session: id2, from_ms: 500, to_ms: 2500 });
    expect(localClip.result.source).toBe('local');
    expect(fs.existsSync(localClip.result.file)).toBe(true);
    const clipDur = Number(
      execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', localClip.result.file], { encoding: 'utf8' }),
    );
    expect(Math.abs(clipDur - 2)).toBeLessThan(0.6);
    await c.call('queue_resume');
    await waitFor(async () => ((await c.call('export_session', { session: id2, target: 'videodb' })).result.export_status === 'exported' ? true : undefined), {
      timeoutMs: 60_000,
      what: 'the second export',
    });
    c.close();
  }, 180_000);
});
