/**
 * The whisper engine with a model file the test builds (tiny, all-zero
 * weights but one token: it says "hello" over whatever it hears): the real
 * @napi-rs/whisper binding loads it in a worker thread, transcribes a real
 * audio segment, and the indexer maps whisper's centisecond times onto the
 * session clock. A file that is not a model is refused with the reason.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { Indexer, type IndexedEvent } from '../../src/index/indexer.js';
import { chooseSpeech, whisperAvailable, whisperSegmentSeconds, type SpeechEngine } from '../../src/index/speech.js';
import { Store } from '../../src/timeline/store.js';
import { tempDir, waitFor } from '../helpers/env.js';
import { buildTinyWhisperModel } from '../helpers/whisper-model.js';

const have = whisperAvailable() && spawnSync('sh', ['-c', 'command -v ffmpeg && command -v espeak-ng']).status === 0;
if (!have && process.env.CI === 'true') throw new Error('CI: @napi-rs/whisper (linux-x64 binary), ffmpeg or espeak-ng missing');
if (!have) console.warn('SKIPPED whisper tests: @napi-rs/whisper has no binary here, or ffmpeg/espeak-ng are missing');

describe.skipIf(!have)('whisper engine', () => {
  const dir = tempDir('whisper-');
  const model = buildTinyWhisperModel(path.join(dir, 'ggml-tiny-test.bin'));
  const engines: SpeechEngine[] = [];
  afterAll(async () => {
    for (const e of engines) await e.close?.();
  });

  it('maps whisper times (centiseconds) to seconds, clamped to the audio', () => {
    expect(whisperSegmentSeconds(150, 10)).toBe(1.5);
    expect(whisperSegmentSeconds(3000, 6.25)).toBe(6.25); // an unclosed segment ends at the 30 s window
    expect(whisperSegmentSeconds(-3, 5)).toBe(0);
  });

  it('is chosen when a model loads, and a file that is not a model falls back with the reason', async () => {
    const ok = await chooseSpeech({ enabled: true, engine: 'auto', modelFile: model.file, env: process.env });
    engines.push(ok.engine as SpeechEngine);
    expect(ok.engine?.name).toBe('whisper (ggml-tiny-test.bin)');
    expect(ok.reason).toBe(`whisper.cpp with ${model.file}`);
    const junk = path.join(dir, 'ggml-junk.bin');
    fs.writeFileSync(junk, crypto.randomBytes(4096));
    const bad = await chooseSpeech({ enabled: true, engine: 'auto', modelFile: junk, env: process.env });
    if (bad.engine) engines.push(bad.engine);
    expect(bad.reason).toMatch(/the whisper model .*ggml-junk\.bin does not load/);
    expect(bad.engine?.name ?? 'none').not.toMatch(/whisper/);
  });

  it('transcribes a recorded audio segment in a worker (the event loop keeps running) and lands on the session clock', async () => {
    const home = tempDir('wh-');
    const store = new Store(path.join(home, 'traced.db'));
    const sid = '20261121-120000-whsp';
    store.insertSession({ id: sid, project: '/p', label: null, profile: 'audio', state: 'ended', started_at: 1_795_000_000_000, meta: '{}' });
    const seg = path.join(home, 'sessions', sid, 'mic-default');
    fs.mkdirSync(seg, { recursive: true });
    const wav = path.join(home, 'say.wav');
    execFileSync('espeak-ng', ['-w', wav, 'the cache invalidation test is failing again']);
    execFileSync('ffmpeg', ['-v', 'error', '-i', wav, '-ar', '16000', '-ac', '1', '-c:a', 'libopus', path.join(seg, '00003.ogg')]);
    const durationMs = Math.round(
      Number(
        execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', path.join(seg, '00003.ogg')], { encoding: 'utf8' }),
      ) * 1000,
    );
    const startOffset = 180_000;
    store.insertSegment({
      session_id: sid,
      channel_id: 'mic:default',
      seq: 3,
      path: 'mic-default/00003.ogg',
      start_offset_ms: startOffset,
      duration_ms: durationMs,
      bytes: 1,
      sha256: 'x',
      state: 'complete',
      created_at: 1,
    });
    const chosen = await chooseSpeech({ enabled: true, engine: 'whisper', modelFile: model.file, env: process.env });
    engines.push(chosen.engine as SpeechEngine);
    const got: IndexedEvent[] = [];
    const indexer = new Indexer({
      store,
      sessionDir: (id) => path.join(home, 'sessions', id),
      tmpDir: home,
      ffmpeg: async () => 'ffmpeg',
      ocr: { engine: undefined, reason: 'off' },
      speech: chosen,
      ocrIntervalMs: 5000,
      duplicateThreshold: 3,
      silenceDb: -60,
      commit: (_s, events, progress) => {
        got.push(...events);
        store.recordIndexProgress(progress);
      },
      log: pino({ level: 'silent' }),
      idleMs: 50,
    });
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    indexer.start();
    await waitFor(() => (indexer.status().speech.pending_segments === 0 && !indexer.status().current ? true : undefined), {
      timeoutMs: 60_000,
      what: 'whisper indexing',
    });
    clearInterval(ticker);
    await indexer.stop();
    store.close();
    expect(ticks, 'the event loop ran while whisper worked').toBeGreaterThan(5);
    expect(got.length).toBe(1);
    const e = got[0]!;
    expect(e.type).toBe('transcript.segment');
    expect(e.data.engine).toBe('whisper (ggml-tiny-test.bin)');
    expect(String(e.data.text)).toMatch(/^hello( hello)*$/);
    // whisper's segment starts at 0 cs and ends at its 30 s window (3000 cs), clamped to the audio's end.
    expect(e.offset_ms).toBe(startOffset);
    expect(Math.abs(Number(e.data.end_offset_ms) - (startOffset + durationMs))).toBeLessThanOrEqual(50);
  }, 90_000);
});
