/**
 * Segment files: the ffmpeg arguments that make them crash-safe, reading the
 * segment list, probing and hashing finished files. Shared by live capture
 * and cold-start recovery.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { run } from './proc.js';

export type MediaKind = 'video' | 'audio';

export function segmentExt(kind: MediaKind): string {
  return kind === 'video' ? 'mkv' : 'ogg';
}

/** Directory of a channel inside the session folder (`display:1` → `display-1`). */
export function channelDirName(channelId: string): string {
  return channelId.replace(/[^A-Za-z0-9_.@-]/g, '-');
}

/**
 * Output arguments (reference/capture.md): keyframe-aligned segments with
 * per-packet flushing inside the segment muxer, so a kill -9 loses ~1.5 s.
 */
export function outputArgs(kind: MediaKind, o: { segmentSeconds: number; startNumber: number; listFile: string; pattern: string; fps: number }): string[] {
  const seg = ['-f', 'segment', '-segment_time', String(o.segmentSeconds), '-reset_timestamps', '1', '-segment_start_number', String(o.startNumber)];
  if (kind === 'video') {
    return [
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-tune',
      'stillimage,zerolatency',
      '-crf',
      '30',
      '-pix_fmt',
      'yuv420p',
      '-g',
      String(o.segmentSeconds * o.fps * 2),
      '-force_key_frames',
      `expr:gte(t,n_forced*${o.segmentSeconds})`,
      ...seg,
      '-segment_format',
      'matroska',
      '-segment_format_options',
      'flush_packets=1:cluster_time_limit=1000',
      '-segment_list',
      o.listFile,
      '-segment_list_type',
      'csv',
      o.pattern,
    ];
  }
  return [
    '-af',
    'aresample=async=1',
    '-c:a',
    'libopus',
    '-b:a',
    '24k',
    '-application',
    'voip',
    ...seg,
    '-segment_format',
    'ogg',
    '-segment_format_options',
    'flush_packets=1:page_duration=200000',
    '-segment_list',
    o.listFile,
    '-segment_list_type',
    'csv',
    o.pattern,
  ];
}

export interface ListEntry {
  file: string;
  start: number;
  end: number;
}

/** Lines of a csv segment list: `00003.mkv,180.000000,240.000000`. Only finished segments are listed. */
export function parseSegmentList(text: string): ListEntry[] {
  const out: ListEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^([^,]+),([\d.]+),([\d.]+)\s*$/.exec(line);
    if (m) out.push({ file: m[1] as string, start: Number(m[2]), end: Number(m[3]) });
  }
  return out;
}

/** `ffmpeg` stderr: `Input #0, x11grab, from ':99':` … `start: 1795272878.123456` → epoch ms of the first frame. */
export function parseStartEpoch(stderr: string): number | undefined {
  const m = /Input #0[\s\S]*?start: (\d{9,}\.\d+)/.exec(stderr);
  return m ? Math.round(Number(m[1]) * 1000) : undefined;
}

export function seqOf(file: string): number | undefined {
  const m = /^(\d+)\.(mkv|ogg)$/.exec(path.basename(file));
  return m ? Number(m[1]) : undefined;
}

export async function sha256File(file: string): Promise<string> {
  const h = crypto.createHash('sha256');
  // Segments are small (a minute of screen is ~200 KB): one read beats a stream by ~10x per file.
  const size = fs.statSync(file).size;
  if (size <= 16 * 1024 * 1024) return h.update(await fs.promises.readFile(file)).digest('hex');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export function fsyncFile(file: string): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Duration of a media file in ms. A truncated Matroska file has no duration
 * (ffprobe says N/A): then it is the last packet's pts plus one frame.
 */
export async function probeDurationMs(ffprobe: string, file: string): Promise<number | undefined> {
  const fmt = await run(ffprobe, ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file], { timeoutMs: 20_000 });
  const d = Number(fmt.stdout.trim());
  if (fmt.code === 0 && Number.isFinite(d) && d > 0) return Math.round(d * 1000);
  const pk = await run(ffprobe, ['-v', 'error', '-select_streams', '0', '-show_entries', 'packet=pts_time,duration_time', '-of', 'csv=p=0', file], {
    timeoutMs: 30_000,
  });
  const lines = pk.stdout.trim().split('\n').filter(Boolean);
  const last = lines[lines.length - 1];
  if (!last) return undefined;
  const [pts, dur] = last.split(',').map(Number);
  if (!Number.isFinite(pts)) return undefined;
  return Math.round(((pts as number) + (Number.isFinite(dur) ? (dur as number) : 0)) * 1000);
}

/**
 * Mean volume of an audio file in dB (volumedetect), or undefined; with `firstS`, of its first
 * seconds only. The capture's silent-mic check reads a segment's first 10 s: a dead or muted mic
 * is silent throughout, and decoding the whole minute again cost as much CPU as a tenth of the
 * capture itself.
 */
export async function meanVolumeDb(ffmpeg: string, file: string, firstS?: number): Promise<number | undefined> {
  const args = ['-hide_banner', '-nostats', '-threads', '1', '-i', file, ...(firstS ? ['-t', String(firstS)] : []), '-af', 'volumedetect', '-f', 'null', '-'];
  const r = await run(ffmpeg, args, { timeoutMs: 30_000 });
  const m = /mean_volume:\s*(-?[\d.]+|-inf) dB/.exec(r.stderr);
  if (!m) return undefined;
  return m[1] === '-inf' ? -120 : Number(m[1]);
}
