/**
 * Which ffmpeg to run, in order: config `ffmpegPath`, `FFMPEG_BIN`,
 * `ffmpeg-static` (optional dependency, only when its binary exists), then
 * `ffmpeg` on PATH. `traced doctor` shows the choice and why.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ErrorCodes, TracedError } from '../errors.js';
import { run, type RunOptions } from './proc.js';

export interface FfmpegInfo {
  path: string;
  ffprobe: string;
  source: 'config' | 'FFMPEG_BIN' | 'ffmpeg-static' | 'PATH';
  version: string;
}

function staticBinary(): string | undefined {
  try {
    const req = createRequire(import.meta.url);
    const p = req('ffmpeg-static') as unknown;
    return typeof p === 'string' && fs.existsSync(p) ? p : undefined;
  } catch {
    return undefined; // optional dependency not installed (its download fails offline)
  }
}

async function version(bin: string, env: RunOptions['env']): Promise<string | undefined> {
  const r = await run(bin, ['-hide_banner', '-version'], { env, timeoutMs: 5000 });
  if (r.code !== 0) return undefined;
  return /version (\S+)/.exec(r.stdout)?.[1] ?? 'unknown';
}

export async function resolveFfmpeg(opts: { configPath?: string | undefined; env: RunOptions['env'] }): Promise<FfmpegInfo> {
  const candidates: [FfmpegInfo['source'], string | undefined][] = [
    ['config', opts.configPath],
    ['FFMPEG_BIN', opts.env?.FFMPEG_BIN],
    ['ffmpeg-static', staticBinary()],
    ['PATH', 'ffmpeg'],
  ];
  const tried: string[] = [];
  for (const [source, bin] of candidates) {
    if (!bin) continue;
    const v = await version(bin, opts.env);
    if (!v) {
      tried.push(`${source}: ${bin}`);
      continue;
    }
    const dir = path.dirname(bin);
    const probeSibling = path.join(dir, process.platform === 'win32' ? 'ffprobe.exe' : 'ffprobe');
    const ffprobe = bin !== 'ffmpeg' && fs.existsSync(probeSibling) ? probeSibling : 'ffprobe';
    return { path: bin, ffprobe, source, version: v };
  }
  throw new TracedError(
    ErrorCodes.CAPTURE_DEVICE_UNAVAILABLE,
    `no working ffmpeg found (tried ${tried.join(', ') || 'nothing'}); install it (apt install ffmpeg / brew install ffmpeg) or set FFMPEG_BIN`,
    { data: { tried } },
  );
}

/**
 * The one ffmpeg/ffprobe lookup of a daemon, handed to every user (capture,
 * indexer, replay, export, uploads, devices). A found ffmpeg is kept; a failed
 * lookup is not, so an ffmpeg installed later is found by the next caller.
 */
export class FfmpegLocator {
  private found: Promise<FfmpegInfo> | undefined;

  constructor(private readonly opts: { configPath?: string | undefined; env: RunOptions['env'] }) {}

  info(): Promise<FfmpegInfo> {
    if (!this.found) {
      const p = resolveFfmpeg(this.opts);
      this.found = p;
      p.catch(() => {
        if (this.found === p) this.found = undefined;
      });
    }
    return this.found;
  }

  async path(): Promise<string> {
    return (await this.info()).path;
  }

  /** ffprobe beside the ffmpeg found, or `ffprobe` on PATH when no ffmpeg is found at all. */
  async ffprobe(): Promise<string> {
    return this.info().then(
      (f) => f.ffprobe,
      () => 'ffprobe',
    );
  }
}
