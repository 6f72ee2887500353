/**
 * Exactly once as the server sees it (issue 14): video and audio segments and
 * a session export go through the real queue, the real `videodb` SDK and the
 * local VideoDB server while it fails status polls, lookups and creates, stalls
 * requests past the attempt deadline (they take effect late), and the queue is
 * killed and reopened on the same database. What counts is what the server
 * holds at the end. The contract has no audio listing (reference), so an audio
 * create whose own answer never reached the daemon cannot be found: those
 * copies are counted and bounded, not hidden.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UploadQueue } from '../../src/queue/queue.js';
import { VideoDBTarget } from '../../src/queue/videodb.js';
import { Store } from '../../src/timeline/store.js';
import { tempDir, waitFor } from '../helpers/env.js';
import { FakeVideoDB } from '../helpers/videodb-server.js';

const hasFfmpeg = spawnSync('sh', ['-c', 'command -v ffmpeg']).status === 0;
if (!hasFfmpeg && process.env.CI === 'true') throw new Error('CI: ffmpeg is missing (apt-get install ffmpeg)');
if (!hasFfmpeg) console.warn('SKIPPED exactly-once upload tests: they upload real segments made by ffmpeg');

const SESSION = '20261121-130000-efgh';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let fixtureDir: string;
let fixtures: { video: string; audio: string; mp4: string };

beforeAll(() => {
  if (!hasFfmpeg) return;
  fixtureDir = tempDir('once-fx-');
  fixtures = { video: path.join(fixtureDir, 'v.mkv'), audio: path.join(fixtureDir, 'a.ogg'), mp4: path.join(fixtureDir, 'x.mp4') };
  execFileSync('ffmpeg', [
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    'testsrc=size=160x120:rate=2',
    '-t',
    '2',
    '-c:v',
    'libx264',
    '-pix_fmt',
    'yuv420p',
    fixtures.video,
  ]);
  execFileSync('ffmpeg', [
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:sample_rate=16000',
    '-t',
    '2',
    '-c:a',
    'libopus',
    '-b:a',
    '24k',
    fixtures.audio,
  ]);
  execFileSync('ffmpeg', ['-v', 'error', '-i', fixtures.video, '-c', 'copy', fixtures.mp4]);
});
afterAll(() => {
  if (fixtureDir) fs.rmSync(fixtureDir, { recursive: true, force: true });
});

interface Timing {
  attemptMs: number;
  /** createTimeoutMs and settleMs of the target. */
  createMs: number;
}

/** A daemon's upload side on a home of its own: store, target, queue; `kill` drops them the way SIGKILL does and opens new ones. */
class World {
  readonly home = tempDir('once-');
  readonly dbFile = path.join(this.home, 'traced.db');
  store: Store;
  target!: VideoDBTarget;
  queue!: UploadQueue;
  kills = 0;
  /** Create requests a kill cut off, by media name. */
  readonly cut = new Map<string, number>();
  private seq = 0;

  constructor(
    readonly server: FakeVideoDB,
    private readonly timing: Timing,
  ) {
    this.store = new Store(this.dbFile);
    this.store.insertSession({ id: SESSION, project: '/p', label: null, profile: 'full', state: 'ended', started_at: 1_795_000_000_000, meta: '{}' });
    this.open();
  }

  private open(): void {
    const { store, home } = this;
    this.target = new VideoDBTarget({
      apiKey: () => 'good-key',
      baseUrl: this.server.url,
      collection: 'default',
      ffmpeg: async () => 'ffmpeg',
      segmentFile: (job) => {
        const seg = store.getSegment(job.session_id, job.channel_id, job.segment_seq);
        return seg ? { file: path.join(home, 'sessions', SESSION, seg.path), media: job.channel_id.startsWith('display:') ? 'video' : 'audio' } : undefined;
      },
      exportFile: async (job) => {
        const out = path.join(home, 'tmp', `export-${job.id}-${job.attempts}.mp4`);
        fs.mkdirSync(path.dirname(out), { recursive: true });
        fs.copyFileSync(fixtures.mp4, out);
        return out;
      },
      tmpDir: path.join(home, 'tmp'),
      createTimeoutMs: this.timing.createMs,
      settleMs: this.timing.createMs,
      pollIntervalMs: 100,
    });
    const t = this.timing.attemptMs;
    const opts = { concurrency: 4, maxAttempts: 1000, baseDelayMs: 50, maxDelayMs: 400, timeoutMs: { segment: t, export: 2 * t }, pollMs: 50 };
    this.queue = new UploadQueue(store.db, new Map([['videodb', this.target]]), opts, pino({ level: 'silent' }));
  }

  /** Stored segments, alternately video and audio (video first), each with its job. */
  addSegments(n: number): void {
    for (let i = 0; i < n; i++, this.seq++) {
      const video = this.seq % 2 === 0;
      const channel = video ? 'display:1' : 'mic:default';
      const rel = path.join(video ? 'display-1' : 'mic-default', `${String(this.seq).padStart(5, '0')}.${video ? 'mkv' : 'ogg'}`);
      const file = path.join(this.home, 'sessions', SESSION, rel);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.copyFileSync(video ? fixtures.video : fixtures.audio, file);
      const seq = this.seq;
      this.store.transaction(() => {
        this.store.insertSegment({
          session_id: SESSION,
          channel_id: channel,
          seq,
          path: rel,
          start_offset_ms: seq * 2000,
          duration_ms: 2000,
          bytes: fs.statSync(file).size,
          sha256: 'x',
          state: 'complete',
          created_at: Date.now(),
        });
        this.queue.enqueue({ target: 'videodb', kind: 'segment', session_id: SESSION, channel_id: channel, segment_seq: seq });
      });
    }
  }

  addExport(): void {
    this.queue.enqueue({ target: 'videodb', kind: 'export', session_id: SESSION });
  }

  /** SIGKILL, then a cold start: nothing graceful is written (the database goes first), in-flight jobs come back as interrupted. */
  async kill(): Promise<void> {
    for (const name of this.target.close()) this.cut.set(name, (this.cut.get(name) ?? 0) + 1);
    this.store.close();
    await this.queue.stop();
    this.store = new Store(this.dbFile);
    this.open();
    this.queue.recoverInFlight();
    this.queue.start();
    this.kills++;
  }

  rows(): {
    id: number;
    kind: string;
    channel_id: string;
    segment_seq: number;
    state: string;
    attempts: number;
    remote_id: string | null;
    remote_meta: string | null;
  }[] {
    return this.store.db.prepare("SELECT * FROM upload_jobs WHERE target = 'videodb' ORDER BY id").all() as never;
  }

  done(): number {
    return (this.store.db.prepare("SELECT COUNT(*) AS n FROM upload_jobs WHERE state = 'done'").get() as { n: number }).n;
  }

  drained(total: number, timeoutMs = 60_000): Promise<true> {
    return waitFor(() => (this.done() >= total ? true : undefined), { timeoutMs, what: `${total} jobs done` });
  }

  /** Every job done, its remote id a media of its name and kind on the server. */
  expectAllDone(total: number): void {
    const rows = this.rows();
    expect(rows.length).toBe(total);
    for (const r of rows) {
      const name = nameOf(r);
      expect(r.state, name).toBe('done');
      const media = this.server.media.find((m) => m.id === r.remote_id);
      expect(media?.name, `${name}: remote id ${r.remote_id}`).toBe(name);
      expect(media?.media_type, name).toBe(r.channel_id.startsWith('mic:') ? 'audio' : 'video');
    }
  }

  async close(): Promise<void> {
    this.target.close();
    await this.queue.stop();
    this.store.close();
    fs.rmSync(this.home, { recursive: true, force: true });
  }
}

const nameOf = (r: { kind: string; channel_id: string; segment_seq: number }) =>
  r.kind === 'export' ? SESSION : `${SESSION}/${r.channel_id}/${r.segment_seq}`;
const creates = (server: FakeVideoDB) => server.requests.filter((r) => r.method === 'POST' && /\/upload$/.test(r.path)).length;

const worlds: World[] = [];
const servers: FakeVideoDB[] = [];
afterEach(async () => {
  for (const w of worlds.splice(0)) await w.close();
  for (const s of servers.splice(0)) await s.stop();
});

async function world(timing: Timing, seed = 1414): Promise<World> {
  const server = await new FakeVideoDB(seed).start();
  servers.push(server);
  const w = new World(server, timing);
  worlds.push(w);
  return w;
}

describe.skipIf(!hasFfmpeg)('exactly once as the server sees it', () => {
  it('a status poll that fails after the server made the media is polled again — after a kill too — instead of uploading again (video, audio, export)', async () => {
    const w = await world({ attemptMs: 5000, createMs: 5000 });
    const pollsFail = { error500Rate: 1, only: /^\/async-response\// };
    const failingPolls = (kind: string) => () =>
      w
        .rows()
        .filter((r) => r.kind === kind)
        .every((r) => r.attempts >= 2 && r.remote_meta?.includes('output_url'))
        ? true
        : undefined;
    w.server.faults = pollsFail;
    w.addSegments(2);
    w.addExport();
    w.queue.start();
    // The segments have sent their creates and noted the status URLs; the polls keep failing.
    await waitFor(failingPolls('segment'), { timeoutMs: 30_000, what: 'segment polls failing' });
    await w.kill();
    w.server.faults = {};
    await w.drained(2);
    // The export goes once the segments are done: the same again for it.
    w.server.faults = pollsFail;
    await waitFor(failingPolls('export'), { timeoutMs: 30_000, what: 'export polls failing' });
    await w.kill();
    w.server.faults = {};
    await w.drained(3);
    w.expectAllDone(3);
    expect([...w.server.uploadsByName().values()]).toEqual([1, 1, 1]);
    expect(creates(w.server), 'create requests').toBe(3);
  }, 60_000);

  it('a video create whose answer is lost after the server made it (500 after the work) is found by name, not sent again', async () => {
    const w = await world({ attemptMs: 5000, createMs: 5000 });
    w.server.faults = { error500Rate: 1, afterWorkShare: 1, only: /^\/collection\/[^/]+\/upload$/ };
    w.addSegments(1);
    w.addExport();
    w.queue.start();
    await waitFor(() => (w.server.lostCreations.length === 2 ? true : undefined), { timeoutMs: 30_000, what: 'two lost creates' });
    w.server.faults = {};
    await w.drained(2);
    w.expectAllDone(2);
    expect([...w.server.uploadsByName().values()]).toEqual([1, 1]);
    expect(creates(w.server), 'create requests').toBe(2);
  }, 60_000);

  it('a create that stalls past the attempt deadline and lands late is waited for, not sent again (video and audio)', async () => {
    const w = await world({ attemptMs: 1500, createMs: 6000 });
    w.server.faults = { stallRate: 1, stallMs: 3000, only: /^\/collection\/[^/]+\/upload$/ };
    w.addSegments(2);
    w.queue.start();
    await waitFor(() => (w.server.injected.late >= 2 ? true : undefined), { timeoutMs: 20_000, what: 'two stalled creates' });
    w.server.faults = {};
    await w.drained(2);
    w.expectAllDone(2);
    expect([...w.server.uploadsByName().values()]).toEqual([1, 1]);
    expect(creates(w.server), 'create requests').toBe(2);
  }, 60_000);

  it('a kill while a video create is stalled: the next daemon defers until it could have landed, then finds it by name', async () => {
    const w = await world({ attemptMs: 1500, createMs: 4000 });
    w.server.faults = { stallRate: 1, stallMs: 2500, only: /^\/collection\/[^/]+\/upload$/ };
    w.addSegments(1);
    w.queue.start();
    await waitFor(() => (w.server.injected.late >= 1 ? true : undefined), { timeoutMs: 20_000, what: 'a stalled create' });
    await w.kill();
    w.server.faults = {};
    await w.drained(1, 30_000);
    w.expectAllDone(1);
    expect(w.server.lostCreations.length, 'the stalled create landed after the kill').toBe(1);
    expect([...w.server.uploadsByName().values()]).toEqual([1]);
    expect(creates(w.server), 'create requests').toBe(1);
  }, 60_000);

  it('hostile: 30% 5xx on every endpoint (half after the work), stalls past the deadline, kills — one copy per video name, audio copies only from lost create answers', async () => {
    const SEGMENTS = 32; // half video, half audio
    const STALL_MS = 6000; // past the attempt deadline; the stalled request then takes effect
    // 5 s attempts: room for a remux (ffmpeg) and four requests on a loaded two-core machine.
    const w = await world({ attemptMs: 5000, createMs: STALL_MS + 2000 });
    w.addSegments(SEGMENTS);
    w.addExport();
    const total = SEGMENTS + 1;
    w.server.faults = { error500Rate: 0.3, stallRate: 0.06, stallMs: STALL_MS, afterWorkShare: 0.5 };
    w.queue.start();
    const started = Date.now();
    // Killed every 3–6 s while there is work, at most 8 times.
    while (w.done() < total && Date.now() - started < 100_000) {
      await sleep(3000 + Math.random() * 3000);
      if (w.done() < total && w.kills < 8) await w.kill();
    }
    await w.drained(total, 10_000);
    await w.queue.stop();
    w.expectAllDone(total);

    // Counted on the server.
    const copies = w.server.uploadsByName();
    expect(copies.size).toBe(total);
    const lost = new Map<string, number>();
    for (const m of w.server.lostCreations) lost.set(m.name, (lost.get(m.name) ?? 0) + 1);
    let maxVideo = 0;
    let maxAudio = 0;
    for (const [name, n] of copies) {
      if (name.includes('/mic:')) {
        maxAudio = Math.max(maxAudio, n);
        // Unfindable without an audio listing: a create whose answer the server lost (500 after the work, a stall)
        // or a kill cut off. Anything beyond that is a bug.
        expect(n - 1, `${name}: extra audio copies beyond lost create answers`).toBeLessThanOrEqual((lost.get(name) ?? 0) + (w.cut.get(name) ?? 0));
      } else {
        maxVideo = Math.max(maxVideo, n);
        expect(n, `${name}: copies on the server`).toBe(1);
      }
    }
    const lostAudio = w.server.lostCreations.filter((m) => m.media_type === 'audio').length;
    const extraAudio = [...copies].filter(([name]) => name.includes('/mic:')).reduce((a, [, n]) => a + n - 1, 0);
    const cutOff = [...w.cut.values()].reduce((a, b) => a + b, 0);
    const { injected } = w.server;
    console.log(
      `uploads: ${total} jobs, ${injected.error500} injected 5xx, ${injected.stalls} stalls, ${w.kills} restarts, server copies per name: max ${Math.max(maxVideo, maxAudio)} (goal 1)\n` +
        `  video+export: max ${maxVideo} (${w.server.lostCreations.length - lostAudio} create answers lost, all found by name); ` +
        `audio: max ${maxAudio}, ${extraAudio} extra copies (${lostAudio} create answers lost by the server, ${cutOff} creates cut off by kills; no audio listing in the contract); ` +
        `${injected.afterWork} faults after the work, ${injected.late} late stalls, ${creates(w.server)} creates, ${w.server.requests.length} requests, ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    expect(injected.error500).toBeGreaterThan(0);
    expect(injected.stalls).toBeGreaterThan(0);
    expect(w.kills).toBeGreaterThan(0);
  }, 150_000);
});
