/**
 * On-screen text. Frames are sampled from a display segment (frames.ts: every
 * `intervalMs`), upscaled 2x and turned grey by ffmpeg as PGM, near-duplicates
 * skipped, dark frames inverted, then read by the tesseract CLI
 * (`OMP_THREAD_LIMIT=1`: two OpenMP threads on two busy cores took 4–78 s a
 * frame) or, where the CLI is missing, tesseract.js with its npm-shipped
 * English data. Measured settings: ../shared/reference/capture.md.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { hasCommand, run } from '../capture/proc.js';

export interface OcrLine {
  text: string;
  /** Mean word confidence, 0–100. */
  conf: number;
  /** Pixel rows the line's words cover in the image read (top inclusive, bottom exclusive). */
  top?: number;
  bottom?: number;
}

export interface OcrResult {
  lines: OcrLine[];
  text: string;
  conf: number;
  words: number;
}

export interface OcrEngine {
  readonly name: string;
  recognize(file: string, signal?: AbortSignal): Promise<OcrResult>;
  /** Many images in one run of the engine (one process, the language data loaded once); results in order. */
  recognizeMany?(files: readonly string[], signal?: AbortSignal): Promise<OcrResult[]>;
  close?(): Promise<void>;
}

/** Reads every file, in one run when the engine can. */
export async function recognizeAll(engine: OcrEngine, files: readonly string[], signal?: AbortSignal): Promise<OcrResult[]> {
  if (files.length === 0) return [];
  if (engine.recognizeMany && files.length > 1) return engine.recognizeMany(files, signal);
  const out: OcrResult[] = [];
  for (const f of files) {
    if (signal?.aborted) break;
    out.push(await engine.recognize(f, signal));
  }
  return out;
}

/** Words below this confidence are noise (UI chrome, icons read as letters). */
const MIN_WORD_CONF = 10;

/** Parses tesseract's TSV: words (level 5) grouped into lines, low-confidence words dropped. */
export function parseTesseractTsv(tsv: string): OcrResult {
  const lines = new Map<string, { words: string[]; confs: number[]; top: number; bottom: number }>();
  for (const row of tsv.split('\n').slice(1)) {
    const f = row.split('\t');
    if (f.length < 12 || f[0] !== '5') continue;
    const conf = Number(f[10]);
    const word = (f[11] ?? '').trim();
    if (!word || !(conf >= MIN_WORD_CONF)) continue;
    const key = `${f[2]}.${f[3]}.${f[4]}`;
    const l = lines.get(key) ?? { words: [], confs: [], top: Number.POSITIVE_INFINITY, bottom: 0 };
    l.words.push(word);
    l.confs.push(conf);
    const top = Number(f[7]);
    const height = Number(f[9]);
    if (Number.isFinite(top) && Number.isFinite(height)) {
      l.top = Math.min(l.top, top);
      l.bottom = Math.max(l.bottom, top + height);
    }
    lines.set(key, l);
  }
  return toResult(
    [...lines.values()].map((l) => ({
      text: l.words.join(' '),
      conf: mean(l.confs),
      ...(Number.isFinite(l.top) && l.bottom > l.top ? { top: l.top, bottom: l.bottom } : {}),
    })),
    [...lines.values()].reduce((a, l) => a + l.words.length, 0),
  );
}

/**
 * Splits the TSV of a multi-image run (a list file in, one page per image out) into one result per
 * image: `page_num` (column 2) counts the images from 1; an image with no text still has its page row.
 */
export function parseTesseractTsvPages(tsv: string, pages: number): OcrResult[] {
  const rows = tsv.split('\n');
  const header = rows[0] ?? '';
  const byPage: string[][] = Array.from({ length: pages }, () => [header]);
  for (const row of rows.slice(1)) {
    const page = Number(row.split('\t', 2)[1]);
    if (Number.isInteger(page) && page >= 1 && page <= pages) (byPage[page - 1] as string[]).push(row);
  }
  return byPage.map((r) => parseTesseractTsv(r.join('\n')));
}

function toResult(lines: OcrLine[], words: number): OcrResult {
  return { lines, text: lines.map((l) => l.text).join('\n'), conf: lines.length ? Math.round(mean(lines.map((l) => l.conf))) : 0, words };
}

function mean(xs: number[]): number {
  return xs.length ? Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 10) / 10 : 0;
}

export class TesseractCli implements OcrEngine {
  readonly name = 'tesseract';
  constructor(
    private readonly bin = 'tesseract',
    private readonly nice: string | undefined = undefined,
  ) {}

  async recognize(file: string, signal?: AbortSignal): Promise<OcrResult> {
    return parseTesseractTsv(await this.tsv(file, 1, signal));
  }

  /**
   * One tesseract process for all the images: it takes a text file listing them (no stdin stream of
   * images), loads the language data once and writes one TSV page per image. Saves its start-up
   * (~0.1 s of CPU, measured in docs/measurements.md) for every image after the first.
   */
  async recognizeMany(files: readonly string[], signal?: AbortSignal): Promise<OcrResult[]> {
    if (files.some((f) => /[\r\n]/.test(f))) throw new Error('tesseract list: a file name holds a line break');
    const list = `${files[0]}.list.txt`;
    fs.writeFileSync(list, `${files.join('\n')}\n`);
    try {
      return parseTesseractTsvPages(await this.tsv(list, files.length, signal), files.length);
    } finally {
      fs.rmSync(list, { force: true });
    }
  }

  private async tsv(input: string, images: number, signal?: AbortSignal): Promise<string> {
    const args = [input, 'stdout', '--psm', '3', '-l', 'eng', 'tsv'];
    const cmd = this.nice ? this.nice : this.bin;
    const r = await run(cmd, this.nice ? ['-n', '15', this.bin, ...args] : args, {
      env: { ...process.env, OMP_THREAD_LIMIT: '1' },
      timeoutMs: 120_000 * images,
      maxBytes: 8 * 1024 * 1024 * Math.min(images, 8),
      ...(signal ? { signal } : {}),
    });
    if (r.code !== 0) throw new Error(`tesseract failed: ${r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`}`);
    return r.stdout;
  }
}

/** tesseract.js (WebAssembly) with @tesseract.js-data/eng: no download, ~2x slower than the CLI. */
export class TesseractJs implements OcrEngine {
  readonly name = 'tesseract.js';
  private worker: Promise<{ recognize(img: string | Buffer): Promise<{ data: { tsv?: string | null } }>; terminate(): Promise<unknown> }> | undefined;

  private get(): NonNullable<TesseractJs['worker']> {
    this.worker ??= (async () => {
      const req = createRequire(import.meta.url);
      const T = req('tesseract.js') as {
        createWorker(lang: string, oem: number, opts: Record<string, unknown>, config?: Record<string, unknown>): Promise<never>;
      };
      const data = req('@tesseract.js-data/eng') as { langPath: string; gzip: boolean };
      return T.createWorker('eng', 1, { langPath: data.langPath, gzip: data.gzip, cacheMethod: 'none' });
    })();
    return this.worker;
  }

  async recognize(file: string): Promise<OcrResult> {
    const w = await this.get();
    // tesseract.js does not read PGM: the frame goes in as an 8-bit grey BMP.
    const { data } = await w.recognize(pgmToBmp(fs.readFileSync(file)));
    return parseTesseractTsv(data.tsv ?? '');
  }

  async close(): Promise<void> {
    if (this.worker) await (await this.worker).terminate();
    this.worker = undefined;
  }
}

/** Picks the OCR engine and says why: the CLI when installed, tesseract.js otherwise, none when disabled. */
export async function chooseOcr(opts: {
  enabled: boolean;
  engine: 'auto' | 'tesseract' | 'tesseract.js';
  env: NodeJS.ProcessEnv | Readonly<Record<string, string | undefined>>;
}): Promise<{ engine: OcrEngine | undefined; reason: string }> {
  if (!opts.enabled) return { engine: undefined, reason: 'disabled (index.ocr.enabled = false)' };
  const nice = process.platform !== 'win32' && (await hasCommand('nice', opts.env)) ? 'nice' : undefined;
  if (opts.engine !== 'tesseract.js' && (await hasCommand('tesseract', opts.env))) {
    return { engine: new TesseractCli('tesseract', nice), reason: 'tesseract CLI found on PATH' };
  }
  if (opts.engine === 'tesseract') return { engine: undefined, reason: 'tesseract CLI not found (apt install tesseract-ocr / brew install tesseract)' };
  try {
    createRequire(import.meta.url).resolve('tesseract.js');
    return {
      engine: new TesseractJs(),
      reason: opts.engine === 'tesseract.js' ? 'configured' : 'tesseract CLI not found; using tesseract.js (about 2x slower)',
    };
  } catch {
    return { engine: undefined, reason: 'neither the tesseract CLI nor tesseract.js is available' };
  }
}

// ---------------------------------------------------------------- PGM frames

export interface GrayFrame {
  width: number;
  height: number;
  /** Offset of the pixel bytes in the file buffer. */
  offset: number;
  buf: Buffer;
}

/** Reads a binary PGM (P5, maxval 255). */
export function readPgm(buf: Buffer): GrayFrame {
  let pos = 0;
  const tokens: string[] = [];
  while (tokens.length < 4) {
    while (pos < buf.length && /\s/.test(String.fromCharCode(buf[pos] as number))) pos++;
    if (buf[pos] === 0x23) {
      while (pos < buf.length && buf[pos] !== 0x0a) pos++;
      continue;
    }
    let t = '';
    while (pos < buf.length && !/\s/.test(String.fromCharCode(buf[pos] as number))) t += String.fromCharCode(buf[pos++] as number);
    tokens.push(t);
  }
  if (tokens[0] !== 'P5' || tokens[3] !== '255') throw new Error(`not an 8-bit binary PGM (${tokens.join(' ')})`);
  return { width: Number(tokens[1]), height: Number(tokens[2]), offset: pos + 1, buf };
}

/**
 * The band of rows (fractions of the height, a block of margin each side)
 * where any thumbnail block moved by more than `threshold` grey levels;
 * undefined when nothing did (a duplicate frame).
 */
export function changedRows(prev: Uint8Array, cur: Uint8Array, threshold: number, width = 64, height = 36): { from: number; to: number } | undefined {
  let first = -1;
  let last = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (Math.abs((prev[y * width + x] ?? 0) - (cur[y * width + x] ?? 0)) > threshold) {
        if (first < 0) first = y;
        last = y;
        break;
      }
    }
  }
  if (first < 0) return undefined;
  return { from: Math.max(0, first - 1) / height, to: Math.min(height, last + 2) / height };
}

/** A new frame holding rows [from, to) (fractions of the height) of `f`. */
export function cropRows(f: GrayFrame, from: number, to: number): GrayFrame {
  const y0 = Math.floor(from * f.height);
  const y1 = Math.max(y0 + 1, Math.ceil(to * f.height));
  const header = Buffer.from(`P5\n${f.width} ${y1 - y0}\n255\n`);
  const pixels = f.buf.subarray(f.offset + y0 * f.width, f.offset + y1 * f.width);
  const buf = Buffer.concat([header, pixels]);
  return { width: f.width, height: y1 - y0, offset: header.length, buf };
}

/** Inverts the frame's pixels in place (dark themes read better as dark text on light). */
export function invert(f: GrayFrame): void {
  for (let i = f.offset; i < f.buf.length; i++) f.buf[i] = 255 - (f.buf[i] as number);
}

/** An 8-bit grey BMP of a PGM frame, for engines that do not read PNM. */
export function pgmToBmp(pgm: Buffer): Buffer {
  const f = readPgm(pgm);
  const rowSize = Math.ceil(f.width / 4) * 4;
  const palette = Buffer.alloc(256 * 4);
  for (let i = 0; i < 256; i++) palette.writeUInt32LE((i << 16) | (i << 8) | i, i * 4);
  const header = Buffer.alloc(54);
  const size = 54 + palette.length + rowSize * f.height;
  header.write('BM', 0);
  header.writeUInt32LE(size, 2);
  header.writeUInt32LE(54 + palette.length, 10);
  header.writeUInt32LE(40, 14);
  header.writeInt32LE(f.width, 18);
  header.writeInt32LE(f.height, 22);
  header.writeUInt16LE(1, 26);
  header.writeUInt16LE(8, 28);
  header.writeUInt32LE(rowSize * f.height, 34);
  header.writeUInt32LE(256, 46);
  const pixels = Buffer.alloc(rowSize * f.height);
  for (let y = 0; y < f.height; y++) f.buf.copy(pixels, (f.height - 1 - y) * rowSize, f.offset + y * f.width, f.offset + (y + 1) * f.width);
  return Buffer.concat([header, palette, pixels]);
}
