/**
 * The upload queue with its real parts: a SQLite store, the real `videodb`
 * SDK, real segment files made by ffmpeg, and the local VideoDB server with
 * injected faults.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UploadQueue, type QueueOptions } from '../../src/queue/queue.js';
import { VideoDBTarget } from '../../src/queue/videodb.js';
import { Store } from '../../src/timeline/store.js';
import { tempDir, waitFor } from '../helpers/env.js';
import { FakeVideoDB } from '../helpers/videodb-server.js';

const hasFfmpeg = spawnSync('sh', ['-c', 'command -v ffmpeg']).status === 0;
if (!hasFfmpeg && process.env.CI === 'true') throw new Error('CI: ffmpeg is missing (apt-get install ffmpeg)');
if (!hasFfmpeg) console.warn('SKIPPED queue tests: they upload real segments made by ffmpeg');

const SESSION = '20261121-120000-abcd';
let fixtures: { video: string; audio: string };

beforeAll(() => {
  if (!hasFfmpeg) return;
  const dir = tempDir('segfx-');
  const video = path.join(dir, 'v.mkv');
  const audio = path.join(dir, 'a.ogg');
  execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=2', '-t', '2', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', video]);
  execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=16000', '-t', '2', '-c:a', 'libopus', '-b:a', '24k', audio]);
  fixtures = { video, audio };
});

interface Rig {
  home: string;
  store: Store;
  server: FakeVideoDB;
  queue: UploadQueue;
  key: { value: string };
  addSegments(n: number): void;
}

const rigs: Rig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) {
    await r.queue.stop();
    await r.server.stop();
    r.store.close();
  }
});

async function rig(opts: Partial<QueueOptions> = {}): Promise<Rig> {
  const home = tempDir('q-');
  const store = new Store(path.join(home, 'traced.db'));
  store.insertSession({ id: SESSION, project: '/p', label: null, profile: 'full', state: 'ended', started_at: 1_795_000_000_000, meta: '{}' });
  const server = await new FakeVideoDB().start();
  const key = { value: 'good-key' };
  const target = new VideoDBTarget({
    apiKey: () => key.value,
    baseUrl: server.url,
    collection: 'default',
    ffmpeg: async () => 'ffmpeg',
    segmentFile: (job) => {
      const seg = store.getSegment(job.session_id, job.channel_id, job.segment_seq);
      return seg ? { file: path.join(home, 'sessions', SESSION, seg.path), media: job.channel_id.startsWith('display:') ? 'video' : 'audio' } : undefined;
    },
    tmpDir: path.join(home, 'tmp'),
    // A create request that stalls holds its name this long (60 s by default): short here, past the timeouts below.
    createTimeoutMs: 5000,
    settleMs: 5000,
  });
  const queue = new UploadQueue(
    store.db,
    new Map([['videodb', target]]),
    {
      concurrency: 2,
      maxAttempts: 6,
      baseDelayMs: 50,
      maxDelayMs: 400,
      timeoutMs: { segment: 4000 },
      pollMs: 50,
      ...opts,
    },
    pino({ level: 'silent' }),
  );
  let next = 0;
  const r: Rig = {
    home,
    store,
    server,
    queue,
    key,
    addSegments(n) {
      for (let i = 0; i < n; i++, next++) {
        const video = next % 2 === 0;
        const channel = video ? 'display:1' : 'mic:default';
        const rel = path.join(video ? 'display-1' : 'mic-default', `${String(next).padStart(5, '0')}.${video ? 'mkv' : 'ogg'}`);
        const file = path.join(home, 'sessions', SESSION, rel);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.copyFileSync(video ? fixtures.video : fixtures.audio, file);
        store.transaction(() => {
          store.insertSegment({
            session_id: SESSION,
            channel_id: channel,
            seq: next,
            path: rel,
            start_offset_ms: next * 2000,
            duration_ms: 2000,
            bytes: fs.statSync(file).size,
            sha256: 'x',
            state: 'complete',
            created_at: Date.now(),
          });
          queue.enqueue({ target: 'videodb', kind: 'segment', session_id: SESSION, channel_id: channel, segment_seq: next });
        });
      }
    },
  };
  rigs.push(r);
  return r;
}

const drained = (r: Rig, total: number) =>
  waitFor(() => (r.queue.status().counts.done === total ? true : undefined), { timeoutMs: 60_000, what: `${total} uploads done` });

describe.skipIf(!hasFfmpeg)('upload queue → VideoDB (real SDK, local server)', () => {
  it('uploads every stored segment once, video as MP4 and audio as audio, and records the remote ids', async () => {
    const r = await rig();
    r.addSegments(6);
    // Enqueueing again is a no-op.
    expect(r.queue.enqueue({ target: 'videodb', kind: 'segment', session_id: SESSION, channel_id: 'display:1', segment_seq: 0 })).toBe(false);
    r.queue.start();
    await drained(r, 6);
    const rows = r.store.db.prepare('SELECT * FROM upload_jobs ORDER BY segment_seq').all() as any[];
    expect(rows.length).toBe(6);
    for (const row of rows) {
      const m = r.server.media.find((x) => x.id === row.remote_id);
      expect(m, `remote media for job ${row.id}`).toBeDefined();
      expect(m!.name).toBe(`${SESSION}/${row.channel_id}/${row.segment_seq}`);
      if (row.channel_id === 'display:1') {
        expect(m!.media_type).toBe('video');
        expect(m!.filename).toMatch(/\.mp4$/);
      } else {
        expect(m!.media_type).toBe('audio');
        expect(m!.id).toMatch(/^a-/);
      }
    }
    expect([...r.server.uploadsByName().values()].every((n) => n === 1)).toBe(true);
    expect(fs.readdirSync(path.join(r.home, 'tmp'))).toEqual([]); // remuxed copies cleaned up
  }, 60_000);

  it('rides out 500s and stalls past the timeout: everything lands, nothing fails, no duplicates', async () => {
    // Each attempt makes three upload requests, so these rates fail about half the attempts.
    const r = await rig({ timeoutMs: { segment: 1500 }, maxAttempts: 20 });
    r.server.faults = { error500Rate: 0.15, stallRate: 0.05, uploadsOnly: true };
    r.addSegments(10);
    r.queue.start();
    await drained(r, 10);
    expect(r.queue.status().counts.failed).toBe(0);
    const faults = r.server.requests.filter((q) => q.status === 500 || q.status === 0).length;
    expect(faults, 'faults were injected').toBeGreaterThan(0);
    expect([...r.server.uploadsByName().values()].every((n) => n === 1)).toBe(true);
    expect(r.server.uploadsByName().size).toBe(10);
  }, 90_000);

  it('offline for a while, then up: the queue drains without anyone doing anything', async () => {
    const r = await rig();
    await r.server.stop();
    r.addSegments(4);
    r.queue.start();
    await waitFor(() => (r.store.db.prepare("SELECT COUNT(*) AS n FROM upload_jobs WHERE last_error IS NOT NULL AND state = 'pending'").get() as any).n >= 1, {
      what: 'a refused attempt',
    });
    const err = (r.store.db.prepare('SELECT last_error FROM upload_jobs WHERE last_error IS NOT NULL LIMIT 1').get() as any).last_error;
    expect(err).toMatch(/ECONNREFUSED|Request failed/);
    expect(r.queue.status().counts.done).toBe(0);
    await r.server.start();
    await drained(r, 4);
  }, 60_000);

  it('a bad key pauses the queue with an auth status, without a retry storm; a good key resumes it', async () => {
    const r = await rig();
    r.key.value = 'bad-key';
    r.addSegments(4);
    r.queue.start();
    const paused = await waitFor(() => r.queue.status().paused ?? undefined, { what: 'auth pause' });
    expect(paused.code).toBe('TRACED_UPLOAD_AUTH');
    expect(paused.by).toBe('auth');
    const before = r.server.requests.length;
    await new Promise((res) => setTimeout(res, 1500));
    expect(r.server.requests.length - before, 'requests while paused').toBe(0);
    const st = r.queue.status();
    expect(st.counts.pending).toBe(4);
    expect(st.counts.failed).toBe(0);
    // Attempts lost to the bad key are given back.
    expect((r.store.db.prepare('SELECT MAX(attempts) AS a FROM upload_jobs').get() as any).a).toBe(0);
    r.key.value = 'good-key';
    await drained(r, 4);
    expect(r.queue.status().paused).toBeNull();
  }, 60_000);

  it('a permanent error fails at once; a server that keeps failing fails after maxAttempts; both are retryable', async () => {
    const r = await rig({ maxAttempts: 3 });
    r.addSegments(2);
    const missing = path.join(r.home, 'sessions', SESSION, 'display-1', '00000.mkv');
    const keep = `${missing}.keep`;
    fs.renameSync(missing, keep);
    r.server.faults = { error500Rate: 1, uploadsOnly: true };
    r.queue.start();
    await waitFor(() => (r.queue.status().counts.failed === 2 ? true : undefined), { timeoutMs: 20_000, what: 'two failed jobs' });
    const failed = r.queue.status().failed;
    const gone = failed.find((f) => f.segment_seq === 0)!;
    expect(gone.attempts).toBe(1);
    expect(gone.last_error).toMatch(/not on disk/);
    const flaky = failed.find((f) => f.segment_seq === 1)!;
    expect(flaky.attempts).toBe(3);
    expect(flaky.last_error).toMatch(/500/);
    expect(flaky.last_error).toMatch(/gave up after 3 attempts/);
    fs.renameSync(keep, missing);
    r.server.faults = {};
    expect(r.queue.retry()).toBe(2);
    await drained(r, 2);
  }, 60_000);

  it('jobs left in flight by a killed daemon go back to pending, and an upload that had landed is not sent again', async () => {
    const r = await rig();
    r.addSegments(1);
    r.queue.start();
    await drained(r, 1);
    await r.queue.stop();
    // Simulate the crash window: the upload landed remotely but the daemon died before recording it.
    r.store.db.prepare("UPDATE upload_jobs SET state = 'in_flight', remote_id = NULL").run();
    const q2 = new UploadQueue(
      r.store.db,
      new Map([['videodb', (r.queue as any).targets.get('videodb')]]),
      { concurrency: 1, maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 100, timeoutMs: { segment: 4000 }, pollMs: 50 },
      pino({ level: 'silent' }),
    );
    expect(q2.recoverInFlight()).toBe(1);
    q2.start();
    await waitFor(() => (q2.status().counts.done === 1 ? true : undefined), { what: 'recovered job done' });
    await q2.stop();
    expect(r.server.uploadsByName().get(`${SESSION}/display:1/0`)).toBe(1);
    const row = r.store.db.prepare('SELECT remote_id FROM upload_jobs').get() as any;
    expect(row.remote_id).toBe(r.server.media[0]!.id);
  }, 60_000);
});
