/**
 * The speech gate: only voiced stretches of an audio segment reach the speech
 * engine, and what comes back lands on the session clock where it was said.
 * Properties on synthetic PCM (tone bursts in noise) pin the detector and the
 * splice arithmetic; then espeak-ng phrases at known times in a real opus
 * segment go through the real indexer with real pocketsphinx (and whisper.cpp
 * with the test's tiny model): every phrase lands within ±1 s of when it was
 * said, and silence gives no transcript row.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { Indexer, type IndexedEvent, type IndexerOptions } from '../../src/index/indexer.js';
import { whisperWhenPulled } from '../../src/index/models.js';
import {
  AUDIO_WAITS,
  chooseSpeech,
  GATE,
  PS_FAST,
  Pocketsphinx,
  type Region,
  type SpeechEngine,
  splice,
  unsplice,
  voicedRegions,
  WhisperEngine,
  whisperAvailable,
} from '../../src/index/speech.js';
import type { IndexProgressRow } from '../../src/timeline/store.js';
import { Store } from '../../src/timeline/store.js';
import { tempDir, waitFor } from '../helpers/env.js';
import { buildTinyWhisperModel } from '../helpers/whisper-model.js';

const RATE = 16_000;

/** Seeded uniform noise at `db` dBFS RMS with tone bursts of `burstDb` at the given places. */
function synth(durS: number, noiseDb: number, bursts: { start: number; len: number; db: number }[], seed: number): Int16Array {
  let x = seed >>> 0 || 1;
  const rand = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
  const pcm = new Int16Array(Math.round(durS * RATE));
  const noiseAmp = 32768 * 10 ** (noiseDb / 20) * Math.sqrt(3); // uniform in ±a has RMS a/√3
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round((rand() * 2 - 1) * noiseAmp);
  for (const b of bursts) {
    const amp = 32768 * 10 ** (b.db / 20) * Math.SQRT2; // a sine's RMS is amp/√2
    for (let i = Math.round(b.start * RATE); i < Math.min(pcm.length, Math.round((b.start + b.len) * RATE)); i++) {
      pcm[i] = Math.max(-32768, Math.min(32767, (pcm[i] as number) + Math.round(amp * Math.sin((2 * Math.PI * 440 * i) / RATE))));
    }
  }
  return pcm;
}

describe('speech gate: where the voiced stretches are', () => {
  it('covers every burst whole, puts no region where there is only noise, and keeps regions ordered and inside the recording', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -90, max: -50 }),
        fc.array(
          fc.record({ slot: fc.integer({ min: 0, max: 9 }), len: fc.double({ min: 0.1, max: 1.5, noNaN: true }), db: fc.integer({ min: -38, max: -6 }) }),
          {
            maxLength: 6,
          },
        ),
        fc.integer(),
        (noiseDb, raw, seed) => {
          // One burst per 2-second slot at most: bursts never overlap.
          const slots = new Map(raw.map((b) => [b.slot, b]));
          const bursts = [...slots.values()].map((b) => ({ start: b.slot * 2 + 0.2, len: b.len, db: b.db }));
          const pcm = synth(20, noiseDb, bursts, seed);
          const { regions } = voicedRegions(pcm, RATE, -55);
          for (const [i, r] of regions.entries()) {
            expect(r.start).toBeGreaterThanOrEqual(0);
            expect(r.end).toBeLessThanOrEqual(20);
            expect(r.end).toBeGreaterThan(r.start);
            if (i) expect(r.start).toBeGreaterThan((regions[i - 1] as Region).end);
          }
          for (const b of bursts) {
            expect(
              regions.some((r) => r.start <= b.start && r.end >= b.start + b.len),
              `burst at ${b.start}s (${b.len.toFixed(2)}s, ${b.db} dB) over noise at ${noiseDb} dB is covered`,
            ).toBe(true);
          }
          const slack = GATE.padS + 2 * GATE.frameS;
          for (const r of regions) {
            expect(
              bursts.some((b) => b.start < r.end + slack && b.start + b.len > r.start - slack),
              `region ${r.start.toFixed(2)}–${r.end.toFixed(2)} holds a burst`,
            ).toBe(true);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a recording that is loud from end to end is one region (no quiet frames to learn the floor from); digital silence is none', () => {
    const loud = synth(8, -20, [], 7);
    expect(voicedRegions(loud, RATE, -55).regions).toEqual([{ start: 0, end: 8 }]);
    expect(voicedRegions(new Int16Array(RATE * 5), RATE, -55).regions).toEqual([]);
    // A key click (one 20 ms frame) is not speech.
    expect(voicedRegions(synth(5, -70, [{ start: 2, len: 0.02, db: -10 }], 3), RATE, -55).regions).toEqual([]);
  });

  it('splicing regions and putting a time back is exact inside every region', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: 0.01, max: 5, noNaN: true }), fc.double({ min: 0.05, max: 5, noNaN: true })), { minLength: 1, maxLength: 8 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 10 }),
        (gapsLens, fracs) => {
          let t = 0;
          const regions = gapsLens.map(([gap, len]) => {
            const r = { start: t + gap, end: t + gap + len };
            t = r.end;
            return r;
          });
          const pieces = splice(regions);
          for (const [i, r] of regions.entries()) {
            for (const f of fracs) {
              const inRec = r.start + f * (r.end - r.start);
              const inSplice = (pieces[i] as { at: number }).at + (inRec - r.start);
              expect(Math.abs(unsplice(pieces, inSplice) - inRec)).toBeLessThan(1e-9);
            }
          }
          // A time in the gap after a piece goes to a region edge, never into silence.
          const p0 = pieces[0] as { at: number; len: number };
          const r0 = regions[0] as Region;
          expect(unsplice(pieces, p0.at + p0.len + 0.2)).toBeCloseTo(r0.end, 9);
        },
      ),
    );
  });
});

const tools = ['ffmpeg', 'espeak-ng', 'sox', 'pocketsphinx_continuous'].filter((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0);
if (tools.length && process.env.CI === 'true') throw new Error(`CI: missing ${tools.join(', ')}`);
if (tools.length) console.warn(`SKIPPED speech gate with real audio: needs ${tools.join(', ')}`);

interface Phrase {
  at: number;
  text: string;
}

/** espeak-ng phrases at known times over quiet pink noise, recorded as an opus segment as traced stores it. */
function record(dir: string, name: string, durS: number, phrases: Phrase[]): string {
  const parts: string[] = [];
  const noise = path.join(dir, `${name}-noise.wav`);
  execFileSync('sox', ['-n', '-r', '16000', '-c', '1', '-b', '16', noise, 'synth', String(durS), 'pinknoise', 'vol', '0.003']);
  parts.push(noise);
  for (const [i, p] of phrases.entries()) {
    const raw = path.join(dir, `${name}-${i}-raw.wav`);
    const placed = path.join(dir, `${name}-${i}.wav`);
    execFileSync('espeak-ng', ['-w', raw, p.text]);
    execFileSync('sox', [raw, '-r', '16000', '-c', '1', '-b', '16', placed, 'pad', String(p.at)]);
    parts.push(placed);
  }
  const mixed = path.join(dir, `${name}-mix.wav`);
  if (parts.length > 1) execFileSync('sox', ['-m', ...parts.flatMap((p) => ['-v', '1', p]), mixed, 'trim', '0', String(durS)]);
  else fs.copyFileSync(noise, mixed);
  const out = path.join(dir, `${name}.ogg`);
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', mixed, '-ar', '16000', '-ac', '1', '-c:a', 'libopus', '-b:a', '24k', out]);
  return out;
}

/** Runs the real indexer over the segments until done; returns its events and progress rows. */
async function indexAll(
  engine: SpeechEngine | undefined,
  segs: { file: string; seq: number; startMs: number; durMs: number }[],
  more: Partial<IndexerOptions> = {},
  during?: (indexer: Indexer) => Promise<void>,
): Promise<{ events: IndexedEvent[]; progress: IndexProgressRow[]; engineAtEnd: string | null }> {
  const home = tempDir('gate-');
  const store = new Store(path.join(home, 'traced.db'));
  const sid = '20261121-120000-gate';
  store.insertSession({ id: sid, project: '/p', label: null, profile: 'audio', state: 'ended', started_at: 1_795_000_000_000, meta: '{}' });
  fs.mkdirSync(path.join(home, 'sessions', sid, 'mic-default'), { recursive: true });
  for (const s of segs) {
    const rel = `mic-default/${String(s.seq).padStart(5, '0')}.ogg`;
    fs.copyFileSync(s.file, path.join(home, 'sessions', sid, rel));
    store.insertSegment({
      session_id: sid,
      channel_id: 'mic:default',
      seq: s.seq,
      path: rel,
      start_offset_ms: s.startMs,
      duration_ms: s.durMs,
      bytes: 1,
      sha256: 'x',
      state: 'complete',
      created_at: 1,
    });
  }
  const events: IndexedEvent[] = [];
  const progress: IndexProgressRow[] = [];
  const indexer = new Indexer({
    store,
    sessionDir: (id) => path.join(home, 'sessions', id),
    tmpDir: home,
    ffmpeg: async () => 'ffmpeg',
    ocr: { engine: undefined, reason: 'off' },
    speech: { engine, reason: 'test' },
    ocrIntervalMs: 5000,
    duplicateThreshold: 3,
    silenceDb: -55,
    commit: (_s, evs, p) => {
      events.push(...evs);
      progress.push(p);
      store.recordIndexProgress(p);
    },
    log: pino({ level: 'silent' }),
    idleMs: 50,
    ...more,
  });
  indexer.start();
  await during?.(indexer);
  await waitFor(() => (progress.length === segs.length ? true : undefined), { timeoutMs: 120_000, what: 'speech indexing' });
  const engineAtEnd = indexer.status().speech.engine;
  await indexer.stop();
  store.close();
  return { events, progress, engineAtEnd };
}

/** Every phrase has a transcript row starting within ±1 s of when it was said; no row starts or ends in silence. */
function expectOnTime(events: IndexedEvent[], phrases: Phrase[], startMs: number): void {
  const rows = events.filter((e) => e.type === 'transcript.segment');
  const said = phrases.map((p) => ({ ...p, from: startMs + p.at * 1000, to: startMs + (p.at + p.text.split(' ').length * 0.45) * 1000 }));
  for (const p of said) {
    const near = rows.filter((e) => Math.abs(e.offset_ms - p.from) <= 1000);
    expect(near.length, `a transcript row within ±1 s of "${p.text}" said at ${p.at} s; rows at ${rows.map((e) => e.offset_ms).join(', ')}`).toBeGreaterThan(0);
  }
  for (const e of rows) {
    const end = Number(e.data.end_offset_ms);
    expect(
      said.some((p) => e.offset_ms >= p.from - 1000 && end <= p.to + 1500),
      `row "${String(e.data.text)}" at ${e.offset_ms}–${end} lies inside a spoken phrase, not in silence`,
    ).toBe(true);
  }
}

describe.skipIf(tools.length > 0)('speech gate on real speech: every phrase on time, silence silent', () => {
  const dir = tempDir('gate-audio-');
  const phrases: Phrase[] = [
    { at: 3, text: 'the harbor cache is failing again' },
    { at: 16, text: 'restart the build server' },
    { at: 31.5, text: 'open the pull request' },
  ];
  const spoken = record(dir, 'spoken', 40, phrases);
  const silent = record(dir, 'silent', 30, []);
  const engines: SpeechEngine[] = [];
  afterAll(async () => {
    for (const e of engines) await e.close?.();
  });

  it('pocketsphinx: each phrase transcribed within ±1 s of when it was said; the silent segment is skipped with no row', async () => {
    const { events, progress } = await indexAll(new Pocketsphinx(undefined), [
      { file: spoken, seq: 4, startMs: 240_000, durMs: 40_000 },
      { file: silent, seq: 5, startMs: 280_000, durMs: 30_000 },
    ]);
    expectOnTime(
      events.filter((e) => e.offset_ms < 280_000),
      phrases,
      240_000,
    );
    expect(events.filter((e) => e.offset_ms >= 280_000)).toEqual([]);
    const bySeq = new Map(progress.map((p) => [p.seq, p]));
    expect(bySeq.get(5)?.state).toBe('skipped');
    expect(bySeq.get(5)?.detail).toMatch(/^silent: 0\.0 of 30\.0 s voiced in 0 regions/);
    expect(bySeq.get(4)?.state).toBe('done');
    // Only the phrases and their padding went to the engine: well under half of the 40 s.
    const voiced = Number(/^([\d.]+) of 40\.0 s voiced in 3 regions/.exec(String(bySeq.get(4)?.detail))?.[1]);
    expect(voiced).toBeGreaterThan(4);
    expect(voiced).toBeLessThan(14);
  }, 120_000);

  it('auto never falls back to pocketsphinx: with no whisper model there is no engine and the reason says how to get one and how to opt in; engine=pocketsphinx picks it', async () => {
    const env = { PATH: process.env.PATH };
    const auto = await chooseSpeech({ enabled: true, engine: 'auto', modelFile: undefined, env });
    expect(auto.engine).toBeUndefined();
    expect(auto.reason).toMatch(/no whisper model installed \(traced models pull base\.en\)/);
    expect(auto.reason).toMatch(/only used when index\.speech\.engine is "pocketsphinx"/);
    expect(auto.reason).toContain(AUDIO_WAITS);
    // Without pocketsphinx the audio still waits, and the reason still says so.
    const bare = await chooseSpeech({ enabled: true, engine: 'auto', modelFile: undefined, env: { PATH: dir } });
    expect(bare.engine).toBeUndefined();
    expect(bare.reason).toContain(AUDIO_WAITS);
    expect(bare.reason).not.toMatch(/pocketsphinx/);
    const whisper = await chooseSpeech({ enabled: true, engine: 'whisper', modelFile: undefined, env });
    expect(whisper.engine).toBeUndefined();
    expect(whisper.reason).not.toMatch(/pocketsphinx/);
    const ps = await chooseSpeech({ enabled: true, engine: 'pocketsphinx', modelFile: undefined, env });
    expect(ps.engine?.name).toBe('pocketsphinx');
    expect(ps.reason).toMatch(/index\.speech\.engine = "pocketsphinx"/);
    // Without the binary on PATH, asking for it says what to install.
    const none = await chooseSpeech({ enabled: true, engine: 'pocketsphinx', modelFile: undefined, env: { PATH: dir } });
    expect(none.engine).toBeUndefined();
    expect(none.reason).toMatch(/apt install pocketsphinx/);
    const off = await chooseSpeech({ enabled: false, engine: 'pocketsphinx', modelFile: undefined, env });
    expect(off).toEqual({ engine: undefined, reason: 'disabled (index.speech.enabled = false)' });
  });

  it("pocketsphinx's decoder flags (PS_FAST) are ones this binary accepts, and a flag it does not know fails the segment instead of indexing nothing", async () => {
    const raw = path.join(dir, 'flags-raw.wav');
    const wav = path.join(dir, 'flags.wav');
    execFileSync('espeak-ng', ['-w', raw, 'the harbor cache is failing again']);
    execFileSync('sox', [raw, '-r', '16000', '-c', '1', '-b', '16', wav, 'pad', '1']);
    const len = Number(execFileSync('soxi', ['-D', wav], { encoding: 'utf8' }));
    const words = (await new Pocketsphinx(undefined).transcribe(wav)).flatMap((u) => u.words);
    expect(PS_FAST.length).toBeGreaterThan(0);
    expect(words.length, 'words heard with the fast flags').toBeGreaterThan(0);
    for (const w of words) {
      expect(w.start).toBeGreaterThanOrEqual(0.5);
      expect(w.end).toBeLessThanOrEqual(len + 0.01);
    }
    await expect(new Pocketsphinx(undefined, [...PS_FAST, '-no_such_flag', '1']).transcribe(wav)).rejects.toThrow(/pocketsphinx failed/);
  }, 60_000);

  const haveWhisper = whisperAvailable();
  if (!haveWhisper && process.env.CI === 'true') throw new Error('CI: @napi-rs/whisper has no binary here');
  it.skipIf(!haveWhisper)(
    'whisper (tiny test model, it says "hello" to any sound): one row per window of speech, at its time; none over silence',
    async () => {
      const model = buildTinyWhisperModel(path.join(dir, 'ggml-tiny-test.bin'));
      const engine = new WhisperEngine(model.file);
      engines.push(engine);
      // 3 s and 45 s are more than one 30 s window apart: two slices, each on its own clock.
      const far: Phrase[] = [
        { at: 3, text: 'the harbor cache is failing again' },
        { at: 45, text: 'open the pull request' },
      ];
      const { events, progress } = await indexAll(engine, [
        { file: record(dir, 'far', 55, far), seq: 1, startMs: 60_000, durMs: 55_000 },
        { file: silent, seq: 2, startMs: 115_000, durMs: 30_000 },
      ]);
      const rows = events.filter((e) => e.type === 'transcript.segment');
      expect(
        progress.find((p) => p.seq === 1),
        'the spoken segment was transcribed',
      ).toMatchObject({ state: 'done' });
      expect(rows.map((e) => String(e.data.text))).toEqual(['hello', 'hello'].map(() => expect.stringMatching(/^hello( hello)*$/)));
      expectOnTime(rows, far, 60_000);
      expect(progress.find((p) => p.seq === 2)?.state).toBe('skipped');
    },
    120_000,
  );

  it.skipIf(!haveWhisper)(
    'a whisper model pulled while the indexer runs takes over from the next audio segment, without a restart',
    async () => {
      const models = tempDir('gate-models-');
      let looks = 0;
      const look = whisperWhenPulled({ dir: models, configured: undefined, env: process.env });
      const { events, engineAtEnd } = await indexAll(
        undefined,
        [{ file: spoken, seq: 7, startMs: 0, durMs: 40_000 }],
        {
          rechooseMs: 100,
          rechooseSpeech: () => {
            looks++;
            return look();
          },
        },
        async (indexer) => {
          await waitFor(() => (looks >= 2 ? true : undefined), { what: 'the indexer looking for a model' });
          // Meanwhile status says the audio waits (not pending: no engine is working on it).
          expect(indexer.status().speech).toMatchObject({ engine: null, pending_segments: 0, behind_ms: 0, waiting_segments: 1, waiting_ms: 40_000 });
          // `traced models pull base.en` lands the file under its catalog name.
          buildTinyWhisperModel(path.join(models, 'ggml-base.en.bin'));
        },
      );
      expect(engineAtEnd).toBe('whisper (ggml-base.en.bin)');
      const rows = events.filter((e) => e.type === 'transcript.segment');
      expect(rows.length).toBeGreaterThan(0);
      for (const e of rows) expect(e.data.engine).toBe('whisper (ggml-base.en.bin)');
      // Phrases at 3 s and 16 s share one 30 s window, so one slice: it starts at the first phrase.
      expect(Math.abs((rows[0] as IndexedEvent).offset_ms - 3000)).toBeLessThanOrEqual(1000);
    },
    120_000,
  );
});
