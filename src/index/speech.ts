/**
 * Speech to text behind one interface. whisper.cpp through @napi-rs/whisper
 * when a ggml model file is installed (`traced models pull base.en`);
 * Debian's/Homebrew's pocketsphinx as the offline fallback (weak: 67–85% word
 * error on espeak-ng speech, but per-word times). Engines get 16 kHz mono
 * WAV and return utterances with word times in seconds from the file start.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { hasCommand, run } from '../capture/proc.js';

export interface Word {
  word: string;
  start: number;
  end: number;
  conf: number | null;
}

export interface Utterance {
  text: string;
  start: number;
  end: number;
  conf: number | null;
  words: Word[];
}

export interface SpeechEngine {
  readonly name: string;
  transcribe(wav: string, signal?: AbortSignal): Promise<Utterance[]>;
  close?(): Promise<void>;
}

/** A pause longer than this starts a new utterance. */
const UTTERANCE_GAP_S = 0.8;

/** Groups words into utterances at pauses. */
export function utterances(words: readonly Word[]): Utterance[] {
  const out: Utterance[] = [];
  let cur: Word[] = [];
  const flush = () => {
    if (!cur.length) return;
    const confs = cur.map((w) => w.conf).filter((c): c is number => c !== null);
    out.push({
      text: cur.map((w) => w.word).join(' '),
      start: cur[0]!.start,
      end: cur[cur.length - 1]!.end,
      conf: confs.length ? Math.round((confs.reduce((a, b) => a + b, 0) / confs.length) * 1000) / 1000 : null,
      words: cur,
    });
    cur = [];
  };
  for (const w of words) {
    const last = cur[cur.length - 1];
    if (last && w.start - last.end > UTTERANCE_GAP_S) flush();
    cur.push(w);
  }
  flush();
  return out;
}

/**
 * `pocketsphinx_continuous -time yes` prints the hypothesis, then one line per
 * token: `word start end confidence`. Fillers (<s>, </s>, <sil>, [NOISE]) are
 * dropped and alternates (`the(2)`) lose their suffix.
 */
export function parsePocketsphinx(out: string): Word[] {
  const words: Word[] = [];
  for (const line of out.split('\n')) {
    const m = /^(\S+) (\d+\.\d+) (\d+\.\d+) (\d+(?:\.\d+)?)$/.exec(line.trim());
    if (!m) continue;
    const token = (m[1] as string).replace(/\(\d+\)$/, '');
    if (/^(<.*>|\[.*\]|\+\+.*\+\+)$/.test(token)) continue;
    words.push({ word: token, start: Number(m[2]), end: Number(m[3]), conf: Number(m[4]) });
  }
  return words;
}

export class Pocketsphinx implements SpeechEngine {
  readonly name = 'pocketsphinx';
  constructor(private readonly nice: string | undefined) {}

  async transcribe(wav: string, signal?: AbortSignal): Promise<Utterance[]> {
    const args = ['-infile', wav, '-time', 'yes', '-logfn', '/dev/null'];
    const r = await run(this.nice ?? 'pocketsphinx_continuous', this.nice ? ['-n', '15', 'pocketsphinx_continuous', ...args] : args, {
      timeoutMs: 600_000,
      ...(signal ? { signal } : {}),
    });
    if (r.code !== 0) throw new Error(`pocketsphinx failed: ${r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`}`);
    return utterances(parsePocketsphinx(r.stdout));
  }
}

/** True when @napi-rs/whisper has a native binary for this platform. */
export function whisperAvailable(): boolean {
  try {
    createRequire(import.meta.url).resolve('@napi-rs/whisper');
    createRequire(import.meta.url)('@napi-rs/whisper');
    return true;
  } catch {
    return false;
  }
}

/**
 * whisper.cpp segment times are in centiseconds from the start of the audio
 * given to it (whisper_full_get_segment_t0/t1); a segment without a closing
 * timestamp ends at the 30 s window, so ends are clamped to the audio.
 */
export function whisperSegmentSeconds(t: number, durationS: number): number {
  return Math.min(durationS, Math.max(0, t / 100));
}

/** whisper.cpp through @napi-rs/whisper, in a worker thread (see whisper-worker.ts). */
export class WhisperEngine implements SpeechEngine {
  readonly name: string;
  private worker: Worker | undefined;
  private next = 0;
  private readonly waiting = new Map<number, { resolve: (v: WorkerReply) => void; reject: (e: Error) => void }>();

  constructor(
    private readonly modelFile: string,
    private readonly threads = 1,
  ) {
    this.name = `whisper (${path.basename(modelFile)})`;
  }

  private call(wav: string | undefined): Promise<WorkerReply> {
    if (!this.worker) {
      const w = new Worker(workerFile());
      w.unref();
      w.on('message', (m: WorkerReply & { id: number }) => {
        const p = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        if (!p) return;
        if (m.error) p.reject(new Error(m.error));
        else p.resolve(m);
      });
      const fail = (err: Error) => {
        for (const p of this.waiting.values()) p.reject(err);
        this.waiting.clear();
        this.worker = undefined;
      };
      w.on('error', fail);
      w.on('exit', (code) => fail(new Error(`the whisper worker exited (${code})`)));
      this.worker = w;
    }
    const id = ++this.next;
    const worker = this.worker;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, model: this.modelFile, wav, threads: this.threads });
    });
  }

  /** Loads the model in the worker; rejects when the file is not a whisper.cpp model. */
  async load(): Promise<void> {
    await this.call(undefined);
  }

  async transcribe(wav: string): Promise<Utterance[]> {
    const r = await this.call(wav);
    const dur = r.duration_s ?? Number.POSITIVE_INFINITY;
    return (r.segments ?? [])
      .map((s) => ({ text: s.text.trim(), start: whisperSegmentSeconds(s.start, dur), end: whisperSegmentSeconds(s.end, dur), conf: null, words: [] }))
      .filter((u) => u.text && !/^\[.*\]$|^\(.*\)$/.test(u.text));
  }

  async close(): Promise<void> {
    await this.worker?.terminate();
    this.worker = undefined;
  }
}

/** The compiled worker next to this module; from the TypeScript sources (tests), the build's copy. */
function workerFile(): URL {
  const here = new URL('./whisper-worker.js', import.meta.url);
  return fs.existsSync(fileURLToPath(here)) ? here : new URL('../../dist/index/whisper-worker.js', import.meta.url);
}

interface WorkerReply {
  error?: string;
  segments?: { text: string; start: number; end: number }[];
  duration_s?: number;
}

/** Picks the speech engine and says why. */
export async function chooseSpeech(opts: {
  enabled: boolean;
  engine: 'auto' | 'whisper' | 'pocketsphinx';
  modelFile: string | undefined;
  env: Readonly<Record<string, string | undefined>>;
}): Promise<{ engine: SpeechEngine | undefined; reason: string }> {
  if (!opts.enabled) return { engine: undefined, reason: 'disabled (index.speech.enabled = false)' };
  const nice = process.platform !== 'win32' && (await hasCommand('nice', opts.env)) ? 'nice' : undefined;
  const why: string[] = [];
  if (opts.engine !== 'pocketsphinx') {
    if (!whisperAvailable()) why.push('@napi-rs/whisper has no native binary for this platform');
    else if (!opts.modelFile) why.push('no whisper model installed (traced models pull base.en)');
    else {
      const w = new WhisperEngine(opts.modelFile);
      try {
        await w.load();
        return { engine: w, reason: `whisper.cpp with ${opts.modelFile}` };
      } catch (err) {
        await w.close();
        why.push(`the whisper model ${opts.modelFile} does not load: ${(err as Error).message}`);
      }
    }
    if (opts.engine === 'whisper') return { engine: undefined, reason: why.join('; ') };
  }
  if (await hasCommand('pocketsphinx_continuous', opts.env)) {
    return { engine: new Pocketsphinx(nice), reason: `pocketsphinx (weak fallback)${why.length ? `: ${why.join('; ')}` : ''}` };
  }
  why.push('pocketsphinx is not installed (apt install pocketsphinx pocketsphinx-en-us)');
  return { engine: undefined, reason: why.join('; ') };
}
