/**
 * whisper.cpp models: `traced models pull <name>` downloads a ggml file from
 * its well-known source (the whisper.cpp repository on Hugging Face) into
 * `$TRACED_HOME/models`, verifying the SHA-1 the whisper.cpp project publishes
 * for it before it is installed; `traced models list` shows what is there.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ErrorCodes, TracedError } from '../errors.js';
import { chooseSpeech, type SpeechEngine } from './speech.js';

export interface ModelSpec {
  name: string;
  file: string;
  sha1: string;
  mb: number;
}

/** From whisper.cpp's models/README.md ("Available models"). */
export const MODEL_CATALOG: readonly ModelSpec[] = [
  { name: 'tiny.en', file: 'ggml-tiny.en.bin', sha1: 'c78c86eb1a8faa21b369bcd33207cc90d64ae9df', mb: 75 },
  { name: 'tiny', file: 'ggml-tiny.bin', sha1: 'bd577a113a864445d4c299885e0cb97d4ba92b5f', mb: 75 },
  { name: 'base.en', file: 'ggml-base.en.bin', sha1: '137c40403d78fd54d454da0f9bd998f78703390c', mb: 142 },
  { name: 'base', file: 'ggml-base.bin', sha1: '465707469ff3a37a2b9b8d8f89f2f99de7299dac', mb: 142 },
  { name: 'small.en', file: 'ggml-small.en.bin', sha1: 'db8a495a91d927739e50b3fc1cc4c6b8f6c2d022', mb: 466 },
  { name: 'small', file: 'ggml-small.bin', sha1: '55356645c2b361a969dfd0ef2c5a50d530afd8d5', mb: 466 },
];

export const DEFAULT_MODELS_URL = 'https://huggingface.co/ggerganov/whisper.cpp/resolve/main';

/** Preferred order when several are installed: accuracy that still runs well under real time on 2 cores. */
const PREFERENCE = ['base.en', 'base', 'small.en', 'small', 'tiny.en', 'tiny'];

export interface InstalledModel {
  name: string;
  file: string;
  bytes: number;
  /** Whether the file still has the published hash (checked on `list --verify`). */
  verified?: boolean;
}

export function listModels(dir: string, catalog: readonly ModelSpec[] = MODEL_CATALOG): InstalledModel[] {
  const out: InstalledModel[] = [];
  for (const spec of catalog) {
    const file = path.join(dir, spec.file);
    try {
      out.push({ name: spec.name, file, bytes: fs.statSync(file).size });
    } catch {
      // not installed
    }
  }
  return out;
}

/** The model the speech engine should use: a configured name or path, else the preferred installed one. */
export function pickModel(dir: string, configured: string | undefined, catalog: readonly ModelSpec[] = MODEL_CATALOG): string | undefined {
  if (configured) {
    const spec = catalog.find((m) => m.name === configured);
    const file = spec ? path.join(dir, spec.file) : path.resolve(configured);
    return fs.existsSync(file) ? file : undefined;
  }
  const installed = new Map(listModels(dir, catalog).map((m) => [m.name, m.file]));
  for (const name of PREFERENCE) if (installed.has(name)) return installed.get(name);
  return undefined;
}

/**
 * For the indexer's rechooseSpeech: whisper with the model `pickModel` finds
 * now, once one is there (a `traced models pull` while the daemon runs).
 * A file that failed to load is not tried again until it changes.
 */
export function whisperWhenPulled(opts: {
  dir: string;
  configured: string | undefined;
  env: Readonly<Record<string, string | undefined>>;
}): () => Promise<{ engine: SpeechEngine | undefined; reason: string } | undefined> {
  let failed: string | undefined;
  return async () => {
    const file = pickModel(opts.dir, opts.configured);
    if (!file) return undefined;
    const st = fs.statSync(file, { throwIfNoEntry: false });
    const key = `${file}:${st?.size}:${st?.mtimeMs}`;
    if (key === failed) return undefined;
    const choice = await chooseSpeech({ enabled: true, engine: 'whisper', modelFile: file, env: opts.env });
    if (!choice.engine) failed = key;
    return choice;
  };
}

export async function sha1File(file: string): Promise<string> {
  const h = crypto.createHash('sha1');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * Downloads `name` into `dir` (as `<file>.part`, renamed only once its SHA-1
 * matches). A mismatch deletes the download and fails with TRACED_MODEL_HASH.
 */
export async function pullModel(opts: {
  name: string;
  dir: string;
  baseUrl?: string;
  catalog?: readonly ModelSpec[];
  onProgress?: (bytes: number, total: number | undefined) => void;
  signal?: AbortSignal;
}): Promise<InstalledModel> {
  const catalog = opts.catalog ?? MODEL_CATALOG;
  const spec = catalog.find((m) => m.name === opts.name);
  if (!spec) throw new TracedError(ErrorCodes.INVALID_PARAMS, `unknown model "${opts.name}"; known: ${catalog.map((m) => m.name).join(', ')}`);
  fs.mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  const dest = path.join(opts.dir, spec.file);
  const part = `${dest}.part`;
  const url = `${(opts.baseUrl ?? DEFAULT_MODELS_URL).replace(/\/$/, '')}/${spec.file}`;
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow', ...(opts.signal ? { signal: opts.signal } : {}) });
  } catch (err) {
    throw new TracedError(ErrorCodes.MODEL_DOWNLOAD, `cannot reach ${url}: ${(err as Error).message}`, { cause: err });
  }
  if (!res.ok || !res.body) throw new TracedError(ErrorCodes.MODEL_DOWNLOAD, `${url} answered ${res.status} ${res.statusText}`);
  const total = Number(res.headers.get('content-length')) || undefined;
  let got = 0;
  const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
  body.on('data', (c: Buffer) => {
    got += c.length;
    opts.onProgress?.(got, total);
  });
  try {
    await pipeline(body, fs.createWriteStream(part, { mode: 0o600 }));
    const sha1 = await sha1File(part);
    if (sha1 !== spec.sha1) {
      throw new TracedError(ErrorCodes.MODEL_HASH, `${spec.file} from ${url} has SHA-1 ${sha1}, expected ${spec.sha1}: not installed`);
    }
    fs.renameSync(part, dest);
  } finally {
    fs.rmSync(part, { force: true });
  }
  return { name: spec.name, file: dest, bytes: fs.statSync(dest).size, verified: true };
}
