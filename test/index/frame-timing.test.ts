/**
 * Frame-exact times for on-screen text. A 2 fps screen recording whose every
 * frame shows its own presentation time (drawtext `%{pts}`) is cut into
 * crash-safe segments by the capture's own segment arguments, registered at
 * the start offsets the segment list gives, and indexed by the daemon's
 * indexer with real tesseract. The time each read frame is recorded at must
 * be the time written on it; text that appears at t — mid-interval, just
 * before a segment boundary, right after one — is dated to within half a
 * second of t and never before it; and get_frame at a search hit's replay
 * handle shows the text, while the frame half a second earlier does not.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outputArgs, parseSegmentList } from '../../src/capture/segments.js';
import { Indexer } from '../../src/index/indexer.js';
import { TesseractCli } from '../../src/index/ocr.js';
import { tempDir, waitFor } from '../helpers/env.js';
import { testServices, type TestServices } from '../helpers/services.js';

const missing = ['ffmpeg', 'tesseract'].filter((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0);
if (missing.length && process.env.CI === 'true') throw new Error(`CI: missing ${missing.join(', ')}`);
if (missing.length) console.warn(`SKIPPED frame timing: needs ${missing.join(', ')}`);

const FPS = 2;
const DURATION_S = 30;
const SEGMENT_S = 10;
const INTERVAL_MS = 5000;
/** [code, the moment (s) it appears on screen, y]: mid-interval; half a frame before a segment boundary; after one. */
const APPEARS: [string, number, number][] = [
  ['E4711', 13.5, 110],
  ['W0815', 19.5, 170],
  ['F2024', 21, 230],
];

/** Reads a PNG the way the indexer reads frames: upscaled 2x, grey. */
function ocr(png: string): string {
  const pgm = `${png}.pgm`;
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', png, '-vf', 'scale=iw*2:ih*2:flags=lanczos,format=gray', pgm]);
  return execFileSync('tesseract', [pgm, 'stdout', '--psm', '3'], { env: { ...process.env, OMP_THREAD_LIMIT: '1' }, encoding: 'utf8' });
}

describe.skipIf(missing.length > 0)('on-screen text is dated by the frames it is on', () => {
  let t: TestServices;
  let indexer: Indexer;
  let sessionId = '';
  const figures: string[] = [];

  beforeAll(async () => {
    const home = tempDir('ftime-');
    t = testServices({ home });
    const started = await t.recorder.start({ project: tempDir('ftimep-'), profile: 'events', channels: [] });
    sessionId = started.session.id;
    await t.recorder.stop();
    const dir = path.join(t.paths.sessionsDir, sessionId, 'display-1');
    fs.mkdirSync(dir, { recursive: true });
    const draw = [
      `drawtext=text='at %{eif\\:t*1000\\:d} ms':fontcolor=black:fontsize=34:x=20:y=20:font=Monospace`,
      ...APPEARS.map(([code, at, y]) => `drawtext=text='error ${code} in cache':fontcolor=black:fontsize=34:x=20:y=${y}:font=Monospace:enable='gte(t,${at})'`),
    ].join(',');
    const list = path.join(dir, 'segments.csv');
    execFileSync('ffmpeg', [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      `color=c=white:s=640x360:r=${FPS}:d=${DURATION_S},${draw}`,
      ...outputArgs('video', { segmentSeconds: SEGMENT_S, startNumber: 0, listFile: list, pattern: path.join(dir, '%05d.mkv'), fps: FPS }),
    ]);
    const segs = parseSegmentList(fs.readFileSync(list, 'utf8'));
    expect(segs.length).toBe(DURATION_S / SEGMENT_S);
    for (const [seq, e] of segs.entries()) {
      t.store.insertSegment({
        session_id: sessionId,
        channel_id: 'display:1',
        seq,
        path: path.join('display-1', e.file),
        start_offset_ms: Math.round(e.start * 1000),
        duration_ms: Math.round((e.end - e.start) * 1000),
        bytes: 1,
        sha256: 'x',
        state: 'complete',
        created_at: Date.now(),
      });
    }
    indexer = new Indexer({
      store: t.store,
      sessionDir: (id) => path.join(t.paths.sessionsDir, id),
      tmpDir: home,
      ffmpeg: async () => 'ffmpeg',
      ocr: { engine: new TesseractCli(), reason: 'test' },
      speech: { engine: undefined, reason: 'test' },
      ocrIntervalMs: INTERVAL_MS,
      duplicateThreshold: 3,
      silenceDb: -60,
      commit: (sid, evs, progress) => void t.events.appendLate(sid, evs, progress),
      log: pino({ level: 'silent' }),
      idleMs: 100,
    });
    indexer.start();
    await waitFor(() => (indexer.status().ocr.pending_segments === 0 && !indexer.status().current ? true : undefined), {
      timeoutMs: 150_000,
      what: 'indexing',
    });
    await indexer.stop();
  }, 200_000);

  afterAll(() => console.log(`[frame timing]\n${figures.join('\n')}`));

  const screen = () =>
    (
      t.store.db.prepare("SELECT offset_ms, data FROM events WHERE session_id = ? AND type = 'screen.text' ORDER BY offset_ms").all(sessionId) as {
        offset_ms: number;
        data: string;
      }[]
    ).map((r) => ({ offset_ms: r.offset_ms, ...(JSON.parse(r.data) as { text: string; frame_offset_ms: number }) }));

  it('indexed every segment', () => {
    const p = t.store.db.prepare('SELECT seq, state, detail FROM index_progress ORDER BY seq').all() as { state: string }[];
    expect(p, JSON.stringify(p)).toHaveLength(DURATION_S / SEGMENT_S);
    for (const r of p) expect(r.state, JSON.stringify(r)).toBe('done');
  });

  it('records every frame read at the time written on it (±0.5 s)', () => {
    const read = new Map<number, number>();
    for (const e of screen()) {
      // A lone 0 is read as the letter O now and then.
      const m = /at ([\dO]+) ms/.exec(e.text);
      if (m) read.set(e.frame_offset_ms, Number((m[1] as string).replace(/O/g, '0')));
    }
    figures.push(JSON.stringify(screen().map((e) => [e.offset_ms, e.frame_offset_ms, e.text])));
    figures.push(`frames read → pts on them: ${[...read].map(([at, pts]) => `${at}→${pts}`).join(' ')}`);
    // One frame every 5 s of each 10 s segment: 0, 5, 10 … 25 s.
    expect([...read.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: DURATION_S / 5 }, (_, k) => k * 5000));
    for (const [at, pts] of read) expect(Math.abs(at - pts), `frame recorded at ${at} ms shows ${pts} ms`).toBeLessThanOrEqual(500);
    // The line showing the time changes every frame: its event is dated at the frame read itself.
    for (const e of screen().filter((x) => /at [\dO]+ ms/.test(x.text))) expect(e.offset_ms).toBe(e.frame_offset_ms);
  });

  for (const [code, at] of APPEARS) {
    it(`dates ${code}, on screen from ${at} s, within half a second of it and never before`, () => {
      const first = screen().find((e) => e.text.includes(code));
      expect(first, JSON.stringify(screen())).toBeDefined();
      figures.push(`${code}: appeared ${at * 1000} ms, dated ${first?.offset_ms} ms (read in the frame at ${first?.frame_offset_ms} ms)`);
      expect(first?.offset_ms).toBeGreaterThanOrEqual(at * 1000);
      expect(first?.offset_ms).toBeLessThanOrEqual(at * 1000 + 500);
    });
  }

  it('get_frame at a hit’s replay handle shows the text; half a second earlier it is not there yet', async () => {
    for (const [code] of APPEARS) {
      const r = await t.services.search.run({ query: code, limit: 5, max_bytes: 40_000 } as never, sessionId);
      const hit = r.hits[0];
      expect(hit, JSON.stringify(r)).toBeDefined();
      const dir = tempDir('ftimef-');
      const look = async (atMs: number) => {
        const f = await t.replay.getFrame({ session: sessionId, at: String(atMs) } as never);
        const png = path.join(dir, `${atMs}.png`);
        fs.writeFileSync(png, Buffer.from(f.png_base64, 'base64'));
        return ocr(png);
      };
      const at = (hit as { replay: { at_ms: number } }).replay.at_ms;
      expect(await look(at), `frame at the handle ${at} ms`).toContain(code);
      expect(await look(at - 500), `frame at ${at - 500} ms`).not.toContain(code);
    }
  }, 180_000);
});
