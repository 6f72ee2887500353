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
  /**
   * Seconds of audio the engine pays for in one fixed-cost piece (whisper's
   * encoder always runs on a 30 s window): such an engine is given whole
   * slices of the recording, never spliced audio. Unset: cost follows length.
   */
  readonly windowS?: number;
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

/**
 * Decoder flags that cut pocketsphinx's CPU about 2.5x with no loss of recall
 * (docs/measurements.md, "Recording cost"; bench/speech-cost.mjs and
 * bench/speech-recall.mjs): no second (flat-lexicon) pass, at most 3000 active
 * HMMs per frame instead of 30000, and no spectral noise subtraction (the
 * gate already hands over only voiced audio; recall with pink noise mixed in
 * is the same either way). Tried and dropped: `-ds 2`, `-topn 2`, narrower
 * beams, `-bestpath no`, `-maxhmmpf 2000` (each lost keywords), `-maxwpf 5`
 * and `-pl_window 10` (no gain).
 */
export const PS_FAST: readonly string[] = ['-fwdflat', 'no', '-maxhmmpf', '3000', '-remove_noise', 'no'];

export class Pocketsphinx implements SpeechEngine {
  readonly name = 'pocketsphinx';
  constructor(
    private readonly nice: string | undefined,
    private readonly flags: readonly string[] = PS_FAST,
  ) {}

  async transcribe(wav: string, signal?: AbortSignal): Promise<Utterance[]> {
    const args = ['-infile', wav, '-time', 'yes', '-logfn', '/dev/null', ...this.flags];
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
  readonly windowS = 30;
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

/**
 * Why `auto` does not fall back to pocketsphinx: on bench/speech-recall.mjs it
 * finds 5% of the key phrases, and 76–83% of the words it writes were never
 * said. An assistant reading that transcript takes them as said, and it costs
 * about 3.4 s of CPU per recorded minute of speech (docs/measurements.md). The
 * audio waits instead: whisper transcribes it once a model is pulled.
 */
const POCKETSPHINX_OPT_IN =
  'pocketsphinx is installed but only used when index.speech.engine is "pocketsphinx": most of the words it writes were never said (bench/speech-recall.mjs)';
/** What happens to the audio meanwhile (the daemon looks for a pulled model every 30 s; retention keeps it). */
export const AUDIO_WAITS = 'the audio is kept and transcribed once a whisper model is installed';

/**
 * Picks the speech engine and says why. `auto` is whisper.cpp when a model
 * loads, else nothing (see POCKETSPHINX_OPT_IN); pocketsphinx only when asked for.
 */
export async function chooseSpeech(opts: {
  enabled: boolean;
  engine: 'auto' | 'whisper' | 'pocketsphinx';
  modelFile: string | undefined;
  env: Readonly<Record<string, string | undefined>>;
}): Promise<{ engine: SpeechEngine | undefined; reason: string }> {
  if (!opts.enabled) return { engine: undefined, reason: 'disabled (index.speech.enabled = false)' };
  const nice = process.platform !== 'win32' && (await hasCommand('nice', opts.env)) ? 'nice' : undefined;
  const have = await hasCommand('pocketsphinx_continuous', opts.env);
  if (opts.engine !== 'pocketsphinx') {
    if (!whisperAvailable()) {
      // No model can ever load here: say so, and name the only engine there is.
      const only = have
        ? 'pocketsphinx is the only engine for this platform, used when index.speech.engine is "pocketsphinx" (weak: most of the words it writes were never said)'
        : 'pocketsphinx is the only engine for this platform (apt install pocketsphinx pocketsphinx-en-us, then index.speech.engine = "pocketsphinx"; weak)';
      return { engine: undefined, reason: `@napi-rs/whisper has no native binary for this platform; ${only}` };
    }
    const why: string[] = [];
    if (!opts.modelFile) why.push('no whisper model installed (traced models pull base.en)');
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
    why.push(AUDIO_WAITS);
    if (opts.engine === 'auto' && have) why.push(POCKETSPHINX_OPT_IN);
    return { engine: undefined, reason: why.join('; ') };
  }
  if (have)
    return { engine: new Pocketsphinx(nice), reason: 'pocketsphinx (index.speech.engine = "pocketsphinx"; weak: a whisper model is far more accurate)' };
  return { engine: undefined, reason: 'pocketsphinx is not installed (apt install pocketsphinx pocketsphinx-en-us)' };
}

/** Seconds from the start of a recording. */
export interface Region {
  start: number;
  end: number;
}

/**
 * The speech gate's constants. Frames of 20 ms are voiced when their RMS level
 * is `marginDb` above the recording's noise floor (its 10th-percentile frame),
 * never below the configured floor and never demanding more than `capDb`: a
 * recording that is speech from end to end (no quiet frames to learn the
 * floor from) is then still voiced whole, so what is lost to the gate is at
 * worst CPU, never words. A run of `minRunFrames` voiced frames opens a region
 * (a key click is shorter than that); regions get `padS` either side (word
 * onsets and trailing consonants are quieter than the vowels that trip the
 * gate) and join when less than `joinS` apart.
 */
export const GATE = { frameS: 0.02, marginDb: 10, capDb: -40, minRunFrames: 3, padS: 0.35, joinS: 0.8 } as const;

/** RMS level of each frame in dBFS (-120 for digital silence). */
export function frameLevels(pcm: Int16Array, rate: number, frameS: number = GATE.frameS): Float64Array {
  const n = Math.max(1, Math.round(rate * frameS));
  const out = new Float64Array(Math.ceil(pcm.length / n));
  for (let f = 0; f < out.length; f++) {
    let sum = 0;
    const end = Math.min(pcm.length, (f + 1) * n);
    for (let i = f * n; i < end; i++) sum += (pcm[i] as number) * (pcm[i] as number);
    const rms = Math.sqrt(sum / Math.max(1, end - f * n)) / 32768;
    out[f] = rms > 0 ? Math.max(-120, 20 * Math.log10(rms)) : -120;
  }
  return out;
}

/** Where a recording (16-bit mono PCM) holds more than noise, and the level that decided it. */
export function voicedRegions(pcm: Int16Array, rate: number, floorDb: number): { regions: Region[]; thresholdDb: number; noiseDb: number } {
  const levels = frameLevels(pcm, rate);
  const sorted = Float64Array.from(levels).sort();
  const noiseDb = sorted[Math.floor(sorted.length * 0.1)] ?? -120;
  const thresholdDb = Math.max(floorDb, Math.min(noiseDb + GATE.marginDb, GATE.capDb));
  const dur = pcm.length / rate;
  const regions: Region[] = [];
  let run = 0;
  const close = (endFrame: number) => {
    if (run < GATE.minRunFrames) return;
    const start = Math.max(0, (endFrame - run) * GATE.frameS - GATE.padS);
    const end = Math.min(dur, endFrame * GATE.frameS + GATE.padS);
    const last = regions[regions.length - 1];
    if (last && start - last.end < GATE.joinS) last.end = Math.max(last.end, end);
    else regions.push({ start, end });
  };
  for (let f = 0; f < levels.length; f++) {
    if ((levels[f] as number) >= thresholdDb) run++;
    else {
      close(f);
      run = 0;
    }
  }
  close(levels.length);
  return { regions, thresholdDb, noiseDb };
}

/** A 16 kHz-style mono 16-bit PCM WAV file. */
export function writeWav(file: string, pcm: Int16Array, rate: number): void {
  const data = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  fs.writeFileSync(file, Buffer.concat([h, data]));
}

/** Silence put between spliced regions: longer than UTTERANCE_GAP_S, so no utterance spans two. */
const SPLICE_GAP_S = 1;

/** One piece of spliced audio: `len` seconds at `at` in the splice come from `from` in the recording. */
export interface Piece {
  at: number;
  from: number;
  len: number;
}

/** Where regions land when spliced one after another with SPLICE_GAP_S of silence between. */
export function splice(regions: readonly Region[]): Piece[] {
  let at = 0;
  return regions.map((r) => {
    const p = { at, from: r.start, len: r.end - r.start };
    at += p.len + SPLICE_GAP_S;
    return p;
  });
}

/** A time in the splice, back on the recording's clock (a time in a gap goes to the nearer edge). */
export function unsplice(pieces: readonly Piece[], t: number): number {
  const p = pieces.find((x) => t < x.at + x.len + SPLICE_GAP_S / 2) ?? pieces[pieces.length - 1];
  return p ? p.from + Math.min(p.len, Math.max(0, t - p.at)) : t;
}

/**
 * Transcribes only the voiced regions of a recording; times come back on the
 * recording's clock. An engine that pays per window (whisper) gets each run of
 * regions that fits in one window as the recording's own slice; any other
 * engine gets the regions spliced into one file, and its word times are put
 * back region by region.
 */
export async function transcribeRegions(
  engine: SpeechEngine,
  pcm: Int16Array,
  rate: number,
  regions: readonly Region[],
  work: string,
  signal?: AbortSignal,
): Promise<Utterance[]> {
  // Regions cut on whole samples, so a piece's times are exact on both clocks.
  const exact = regions.map((r) => ({ start: Math.floor(r.start * rate) / rate, end: Math.min(pcm.length, Math.ceil(r.end * rate)) / rate }));
  const slice = (r: Region) => pcm.subarray(Math.round(r.start * rate), Math.round(r.end * rate));
  const shift = (u: Utterance, f: (t: number) => number): Utterance => ({
    ...u,
    start: f(u.start),
    end: f(u.end),
    words: u.words.map((w) => ({ ...w, start: f(w.start), end: f(w.end) })),
  });
  if (engine.windowS) {
    const groups: Region[] = [];
    for (const r of exact) {
      const last = groups[groups.length - 1];
      if (last && r.end - last.start <= engine.windowS) last.end = r.end;
      else groups.push({ ...r });
    }
    const out: Utterance[] = [];
    for (const [i, g] of groups.entries()) {
      signal?.throwIfAborted();
      const wav = path.join(work, `voiced-${i}.wav`);
      writeWav(wav, slice(g), rate);
      for (const u of await engine.transcribe(wav, signal)) out.push(shift(u, (t) => g.start + t));
      fs.rmSync(wav, { force: true });
    }
    return out;
  }
  const pieces = splice(exact);
  const last = pieces[pieces.length - 1];
  const all = new Int16Array(last ? Math.round((last.at + last.len) * rate) + 1 : 0);
  for (const [i, r] of exact.entries()) all.set(slice(r), Math.round((pieces[i] as Piece).at * rate));
  const wav = path.join(work, 'voiced.wav');
  writeWav(wav, all, rate);
  const utts = await engine.transcribe(wav, signal);
  fs.rmSync(wav, { force: true });
  // The gap between pieces is longer than an utterance's pauses: no utterance spans two pieces.
  return utts.map((u) => shift(u, (t) => unsplice(pieces, t)));
}
