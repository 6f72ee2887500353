/**
 * Backing off without losing work. The policy (backoff.ts) as properties: it
 * never defers once recording stops, and never lets a kind fall further
 * behind than its bound. Battery state from a sysfs tree laid out as Linux
 * does. Then the daemon's indexer with real display segments, real ffmpeg
 * and tesseract, on a machine the policy calls busy: while "recording" it
 * defers, status says how many segments and how much recording wait and why,
 * it keeps no more than the bound behind, and once recording stops every
 * segment is indexed and its text is searchable.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { BACKOFF, deferral, onBattery } from '../../src/index/backoff.js';
import { Indexer } from '../../src/index/indexer.js';
import { TesseractCli } from '../../src/index/ocr.js';
import { tempDir, waitFor } from '../helpers/env.js';
import { testServices } from '../helpers/services.js';

const missing = ['ffmpeg', 'tesseract'].filter((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0);
if (missing.length && process.env.CI === 'true') throw new Error(`CI: missing ${missing.join(', ')}`);
if (missing.length) console.warn(`SKIPPED indexer back-off: needs ${missing.join(', ')}`);

const WORDS = ['amber', 'birch', 'cedar', 'walnut'];

describe('the back-off policy', () => {
  const state = fc.record({
    recording: fc.boolean(),
    onBattery: fc.boolean(),
    load1: fc.double({ min: 0, max: 64, noNaN: true }),
    cores: fc.integer({ min: 1, max: 64 }),
    behindMs: fc.integer({ min: 0, max: 3_600_000 }),
  });
  it('defers only while recording, only on battery or a busy machine, and never past its bound', () => {
    fc.assert(
      fc.property(state, (m) => {
        const why = deferral(BACKOFF, m);
        if (!m.recording) expect(why).toBeUndefined();
        const busy = m.load1 > BACKOFF.busyLoadPerCore * m.cores;
        const bound = Math.max(m.onBattery ? BACKOFF.batteryMaxBehindMs : 0, busy ? BACKOFF.busyMaxBehindMs : 0);
        if (m.behindMs >= bound) expect(why).toBeUndefined();
        if (m.recording && ((m.onBattery && m.behindMs < BACKOFF.batteryMaxBehindMs) || (busy && m.behindMs < BACKOFF.busyMaxBehindMs))) {
          expect(why).toMatch(m.onBattery && m.behindMs < BACKOFF.batteryMaxBehindMs ? /battery/ : /busy/);
        }
      }),
    );
  });

  it('tells a discharging battery from AC power in a sysfs power_supply tree', () => {
    const root = tempDir('psu-');
    const supply = (name: string, files: Record<string, string>) => {
      fs.mkdirSync(path.join(root, name), { recursive: true });
      for (const [f, v] of Object.entries(files)) fs.writeFileSync(path.join(root, name, f), `${v}\n`);
    };
    expect(onBattery(root)).toBe(false);
    supply('AC', { type: 'Mains', online: '1' });
    supply('BAT0', { type: 'Battery', status: 'Charging' });
    expect(onBattery(root)).toBe(false);
    supply('BAT0', { type: 'Battery', status: 'Discharging' });
    supply('AC', { type: 'Mains', online: '0' });
    expect(onBattery(root)).toBe(true);
    expect(onBattery(path.join(root, 'nothing-here'))).toBe(false);
  });
});

describe.skipIf(missing.length > 0)('a deferring indexer loses nothing', () => {
  it('defers while recording on a busy machine, keeps within its bound, says so in status, and catches up', async () => {
    const home = tempDir('boff-');
    const t = testServices({ home });
    const started = await t.recorder.start({ project: tempDir('boffp-'), profile: 'events', channels: [] });
    const sid = started.session.id;
    await t.recorder.stop();
    const dir = path.join(t.paths.sessionsDir, sid, 'display-1');
    fs.mkdirSync(dir, { recursive: true });
    const addSegment = (seq: number) => {
      const file = path.join(dir, `${String(seq).padStart(5, '0')}.mkv`);
      const draw = `drawtext=text='deferred segment ${WORDS[seq]} waiting':fontcolor=black:fontsize=30:x=20:y=${40 + seq * 50}:font=Monospace`;
      execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `color=c=white:s=640x360:r=2:d=10,${draw}`, '-c:v', 'libx264', '-pix_fmt', 'yuv420p', file]);
      t.store.insertSegment({
        session_id: sid,
        channel_id: 'display:1',
        seq,
        path: path.join('display-1', path.basename(file)),
        start_offset_ms: seq * 10_000,
        duration_ms: 10_000,
        bytes: 1,
        sha256: 'x',
        state: 'complete',
        created_at: Date.now() + seq,
      });
    };
    for (const seq of [0, 1, 2]) addSegment(seq);
    let recording = true;
    const indexer = new Indexer({
      store: t.store,
      sessionDir: (id) => path.join(t.paths.sessionsDir, id),
      tmpDir: home,
      ffmpeg: async () => 'ffmpeg',
      ocr: { engine: new TesseractCli(), reason: 'test' },
      speech: { engine: undefined, reason: 'test' },
      ocrIntervalMs: 5000,
      duplicateThreshold: 3,
      silenceDb: -60,
      commit: (s, evs, progress) => void t.events.appendLate(s, evs, progress),
      log: pino({ level: 'silent' }),
      idleMs: 100,
      recording: () => recording,
      // Always busy (load > 0 per core); less than 25 s of recording behind.
      backoff: { busyLoadPerCore: 0, busyMaxBehindMs: 25_000, batteryMaxBehindMs: 0 },
    });
    const progress = () =>
      t.store.db.prepare('SELECT seq, state FROM index_progress WHERE session_id = ? ORDER BY seq').all(sid) as { seq: number; state: string }[];
    indexer.start();
    try {
      // 30 s behind is over the bound: it indexes the oldest, then waits with 20 s behind.
      const st = await waitFor(
        () => {
          const s = indexer.status();
          return s.deferred && !s.current && s.indexed_segments === 1 ? s : undefined;
        },
        { timeoutMs: 120_000, what: 'the indexer to defer at its bound' },
      );
      expect(st.deferred).toMatch(/busy/);
      expect(st.ocr.pending_segments).toBe(2);
      expect(st.ocr.behind_ms).toBe(20_000);
      await new Promise((r) => setTimeout(r, 1000));
      expect(progress().map((p) => p.seq)).toEqual([0]);
      // A new segment while deferring: counted, and the oldest goes to keep within the bound.
      addSegment(3);
      indexer.wake();
      await waitFor(() => (indexer.status().indexed_segments === 2 && indexer.status().deferred && !indexer.status().current ? true : undefined), {
        timeoutMs: 120_000,
        what: 'one more indexed',
      });
      expect(indexer.status().ocr.pending_segments).toBe(2);
      expect(progress().map((p) => p.seq)).toEqual([0, 1]);
      // Recording stops: everything is caught up.
      recording = false;
      indexer.wake();
      await waitFor(() => (indexer.status().ocr.pending_segments === 0 && !indexer.status().current ? true : undefined), {
        timeoutMs: 120_000,
        what: 'catch-up',
      });
      expect(indexer.status().deferred).toBeNull();
      expect(progress()).toEqual([0, 1, 2, 3].map((seq) => ({ seq, state: 'done' })));
      const texts = (t.store.db.prepare("SELECT data FROM events WHERE session_id = ? AND type = 'screen.text'").all(sid) as { data: string }[]).map(
        (r) => (JSON.parse(r.data) as { text: string }).text,
      );
      for (const seq of [0, 1, 2, 3]) expect(texts.join('\n'), `segment ${seq}'s text`).toContain(WORDS[seq]);
      expect(indexer.status().cost?.media_ms.ocr).toBe(40_000);
      expect(indexer.status().cost?.cpu_ms.ocr).toBeGreaterThan(0);
      expect(indexer.status().cost?.cpu_ms.frame_decode).toBeGreaterThan(0);
    } finally {
      await indexer.stop();
    }
  }, 300_000);
});
