/**
 * Speech to text behind one interface. whisper.cpp through @napi-rs/whisper
 * when a ggml model file is installed (`traced models pull base.en`);
 * Debian's/Homebrew's pocketsphinx as the offline fallback (weak: 67–85% word
 * error on espeak-ng speech, but per-word times). Engines get 16 kHz mono
 * WAV and return utterances with word times in seconds from the file start.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
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
      text: cur.map((w) => w.word).join(' '), start: cur[0]!.start, end: cur[cur.length - 1]!.end,
      conf: confs.length ? Math.round((confs.reduce((a, b) => a + b, 0) / confs.length) * 1000) / 1000 : null, words: cur,
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
    const r = await run(this.nice ?? 'pocketsphinx_continuous', this.nice ? ['-n', '15', 'pocketsphinx_continuous', ...args] : args, { timeoutMs: 600_000, ...(signal ? { signal } : {}) });
    if (r.code !== 0) throw new Error(`pocketsphinx failed: ${r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`}`);
    return utterances(parsePocketsphinx(r.stdout));
  }
}

interface WhisperModule {
  Whisper: new (model: string, params?: Record<string, unknown>) => { full(p: unknown, samples: Float32Array): string };
  WhisperFullParams: new (strategy: number) => Record<string, unknown> & { onNewSegment: (s: { text: string; start: number; end: number }) => void };
  WhisperSamplingStrategy: { Greedy: number };
  decodeAudio(buf: Uint8Array, filename?: string): Float32Array;
}

/** Loads @napi-rs/whisper if its native binary is installed for this platform. */
export function loadWhisper(): WhisperModule | undefined {
  try {
    return createRequire(import.meta.url)('@napi-rs/whisper') as WhisperModule;
  } catch {
    return undefined;
  }
}

/**
 * whisper.cpp segment times are in centiseconds from the start of the audio
 * given to it (whisper_full_get_segment_t0/t1); the binding passes them on as is.
 */
export function whisperSegmentSeconds(t: number): number {
  return t / 100;
}

export class WhisperEngine implements SpeechEngine {
  readonly name: string;
  private ctx: InstanceType<WhisperModule['Whisper']> | undefined;

  constructor(private readonly mod: WhisperModule, private readonly modelFile: string, private readonly threads = 1) {
    this.name = `whisper (${modelFile.split(/[\\/]/).pop()})`;
  }

  /** Loads the model (once). Throws when the file is not a whisper.cpp model. */
  load(): void {
    this.ctx ??= new this.mod.Whisper(this.modelFile, { useGpu: false });
  }

  async transcribe(wav: string): Promise<Utterance[]> {
    this.load();
    const samples = this.mod.decodeAudio(fs.readFileSync(wav), wav);
    const params = new this.mod.WhisperFullParams(this.mod.WhisperSamplingStrategy.Greedy);
    params.nThreads = this.threads;
    params.language = 'en';
    params.printProgress = false;
    params.printRealtime = false;
    params.suppressBlank = true;
    const segs: { text: string; start: number; end: number }[] = [];
    params.onNewSegment = (s) => segs.push({ text: s.text, start: s.start, end: s.end });
    (this.ctx as NonNullable<WhisperEngine['ctx']>).full(params, samples);
    return segs
      .map((s) => ({ text: s.text.trim(), start: whisperSegmentSeconds(s.start), end: whisperSegmentSeconds(s.end), conf: null, words: [] }))
      .filter((u) => u.text && !/^\[.*\]$|^\(.*\)$/.test(u.text));
  }
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
    const mod = loadWhisper();
    if (!mod) why.push('@napi-rs/whisper has no native binary for this platform');
    else if (!opts.modelFile) why.push('no whisper model installed (traced models pull base.en)');
    else {
      const w = new WhisperEngine(mod, opts.modelFile);
      try {
        w.load();
        return { engine: w, reason: `whisper.cpp with ${opts.modelFile}` };
      } catch (err) {
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
