/**
 * whisper.cpp in a worker thread: `Whisper.full` is synchronous and takes
 * seconds per minute of audio, which must never block the daemon's event
 * loop (IPC, capture supervision). The parent sends {id, model, wav,
 * threads}; the worker answers {id, segments} or {id, error}.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { parentPort } from 'node:worker_threads';

interface Req {
  id: number;
  model: string;
  wav?: string;
  threads: number;
}

interface WhisperMod {
  Whisper: new (model: string, params?: Record<string, unknown>) => { full(p: unknown, samples: Float32Array): string };
  WhisperFullParams: new (strategy: number) => Record<string, unknown>;
  WhisperSamplingStrategy: { Greedy: number };
  decodeAudio(buf: Uint8Array, filename?: string): Float32Array;
}

const mod = createRequire(import.meta.url)('@napi-rs/whisper') as WhisperMod;
const contexts = new Map<string, InstanceType<WhisperMod['Whisper']>>();

parentPort?.on('message', (req: Req) => {
  void handle(req).then(
    (r) => parentPort?.postMessage({ id: req.id, ...r }),
    (err: unknown) => parentPort?.postMessage({ id: req.id, error: (err as Error).message ?? String(err) }),
  );
});

async function handle(req: Req): Promise<{ segments?: { text: string; start: number; end: number }[]; duration_s?: number; loaded?: true }> {
  let ctx = contexts.get(req.model);
  if (!ctx) {
    ctx = new mod.Whisper(req.model, { useGpu: false });
    contexts.set(req.model, ctx);
  }
  if (!req.wav) return { loaded: true };
  const samples = mod.decodeAudio(fs.readFileSync(req.wav), req.wav);
  const params = new mod.WhisperFullParams(mod.WhisperSamplingStrategy.Greedy);
  Object.assign(params, { nThreads: req.threads, language: 'en', printProgress: false, printRealtime: false, suppressBlank: true });
  const segments: { text: string; start: number; end: number }[] = [];
  params.onNewSegment = (s: { text: string; start: number; end: number }) => segments.push({ text: s.text, start: s.start, end: s.end });
  const text = ctx.full(params, samples).trim();
  // Segments arrive through a thread-safe callback after full() returns: wait until they add up to the text.
  for (
    let i = 0;
    i < 200 &&
    segments
      .map((s) => s.text.trim())
      .join(' ')
      .replace(/\s+/g, ' ') !== text.replace(/\s+/g, ' ');
    i++
  ) {
    await new Promise((r) => setTimeout(r, 5));
  }
  return { segments, duration_s: samples.length / 16000 };
}
