/**
 * Frames of a display segment for on-screen text, each with its real
 * presentation time. One ffmpeg pass decodes the segment once and writes
 * two things: the frames to read (one every `intervalMs`, chosen by `select`
 * on their own timestamps, upscaled 2x and grey as PGM) and a 64x36 grey
 * thumbnail of every frame. `showinfo` after each branch reports the pts of
 * what it passed, so nothing is dated by counting frames: the `fps` filter
 * this replaced emitted, as its k-th frame, the source frame nearest
 * k·N + N/2 s, and it was dated k·N s — up to N/2 s before it was on screen.
 *
 * Times are relative to the file's first frame (ffmpeg's default without
 * `-copyts`), which is also how `get_frame` seeks: segment start + pts is a
 * session offset that both agree on.
 */
import fs from 'node:fs';
import path from 'node:path';
import { run } from '../capture/proc.js';

/** Thumbnail size: blocks this coarse average out encoder noise, and a line of text still moves them. */
export const THUMB_W = 64;
export const THUMB_H = 36;

export interface SampledFrames {
  /** The frames to read, in time order: PGM file and pts (ms from the segment file's start). */
  reads: { file: string; ptsMs: number; thumb: number }[];
  /** Every decoded frame: pts (ms) and its 64x36 grey thumbnail (row-major). */
  thumbs: { ptsMs: number; px: Uint8Array }[];
}

const SHOWINFO = /^\[showinfo@(read|thumb) @ [^\]]+\] n:\s*\d+ pts:\s*-?\d+ pts_time:(-?[\d.]+(?:e[-+]?\d+)?)/gm;

/** The ffmpeg arguments of one sampling pass (exported so the measurement in the report is reproducible). */
export function samplerArgs(file: string, work: string, intervalMs: number): string[] {
  // A frame is read when it is the first, or at least the interval after the last one read; a hair under
  // the interval so a 2 fps capture whose pts jitter by a millisecond is not pushed one frame later.
  const gap = Math.max(0.001, intervalMs / 1000 - 0.002);
  const graph =
    `[0:v]split=2[r][t];` +
    `[r]select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,${gap})',showinfo@read=checksum=0,scale=iw*2:ih*2:flags=lanczos,format=gray[read];` +
    `[t]scale=${THUMB_W}:${THUMB_H}:flags=area,format=gray,showinfo@thumb=checksum=0[thumb]`;
  return [
    '-nostdin',
    '-hide_banner',
    '-nostats',
    '-loglevel',
    'info',
    // One thread each for decoding and filtering: the same frames for ~15% less CPU than a thread per
    // core (0.55 vs 0.69 s for a minute of 1280x720 terminal, measured), and the indexer is niced anyway.
    '-filter_complex_threads',
    '1',
    '-threads',
    '1',
    '-i',
    file,
    '-filter_complex',
    graph,
    '-map',
    '[read]',
    '-fps_mode',
    'passthrough',
    '-f',
    'image2',
    path.join(work, 'f_%05d.pgm'),
    '-map',
    '[thumb]',
    '-fps_mode',
    'passthrough',
    '-f',
    'rawvideo',
    path.join(work, 'thumbs.gray'),
  ];
}

/** Runs the pass (under `nice` when given) and pairs every output with its pts. */
export async function sampleFrames(opts: {
  ffmpeg: string;
  nice?: string | undefined;
  file: string;
  work: string;
  intervalMs: number;
  signal?: AbortSignal;
}): Promise<SampledFrames> {
  const args = samplerArgs(opts.file, opts.work, opts.intervalMs);
  const r = await run(opts.nice ?? opts.ffmpeg, opts.nice ? ['-n', '15', opts.ffmpeg, ...args] : args, {
    timeoutMs: 300_000,
    maxBytes: 64 * 1024 * 1024,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (r.code !== 0) throw new Error(`cannot sample frames: ${r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`}`);
  return pairFrames(r.stderr, opts.work);
}

/** Pairs showinfo's lines with the files written; exported for tests. */
export function pairFrames(stderr: string, work: string): SampledFrames {
  const readPts: number[] = [];
  const thumbPts: number[] = [];
  for (const m of stderr.matchAll(SHOWINFO)) (m[1] === 'read' ? readPts : thumbPts).push(Math.round(Number(m[2]) * 1000));
  const raw = fs.existsSync(path.join(work, 'thumbs.gray')) ? fs.readFileSync(path.join(work, 'thumbs.gray')) : Buffer.alloc(0);
  const size = THUMB_W * THUMB_H;
  const n = Math.min(thumbPts.length, Math.floor(raw.length / size));
  const thumbs = Array.from({ length: n }, (_, i) => ({ ptsMs: thumbPts[i] as number, px: new Uint8Array(raw.subarray(i * size, (i + 1) * size)) }));
  const files = fs
    .readdirSync(work)
    .filter((f) => /^f_\d+\.pgm$/.test(f))
    .sort()
    .map((f) => path.join(work, f));
  if (files.length !== readPts.length) throw new Error(`frame sampler: ${files.length} frames written, ${readPts.length} timestamps reported`);
  const reads = files.map((file, i) => {
    const ptsMs = readPts[i] as number;
    // The thumbnail of the same decoded frame: equal pts (both branches come from one split).
    let thumb = thumbs.findIndex((t) => t.ptsMs === ptsMs);
    if (thumb < 0) thumb = thumbs.findIndex((t) => t.ptsMs > ptsMs) - 1;
    return { file, ptsMs, thumb };
  });
  return { reads, thumbs };
}

/** True when every block in thumbnail rows [r0, r1] of `a` is within `threshold` grey levels of `b`. */
export function sameRows(a: Uint8Array, b: Uint8Array, r0: number, r1: number, threshold: number): boolean {
  for (let y = Math.max(0, r0); y <= Math.min(THUMB_H - 1, r1); y++) {
    for (let x = 0; x < THUMB_W; x++) {
      const i = y * THUMB_W + x;
      if (Math.abs((a[i] ?? 0) - (b[i] ?? 0)) > threshold) return false;
    }
  }
  return true;
}

/**
 * The first frame from which thumbnail rows [r0, r1] look as they do in
 * `frames[at]`: walks back while the earlier frame matches the read one
 * there. Text in those rows was on screen from that frame on — dated late
 * by at most a frame when a change is smaller than a block can show, never
 * before the frame where the rows last changed.
 */
export function firstSeen(frames: readonly { px: Uint8Array }[], at: number, r0: number, r1: number, threshold: number): number {
  const ref = frames[at]?.px;
  if (!ref) return at;
  let j = at;
  while (j > 0 && sameRows((frames[j - 1] as { px: Uint8Array }).px, ref, r0, r1, threshold)) j--;
  return j;
}

/** Thumbnail rows [r0, r1] covering pixel rows [top, bottom) of a frame `height` pixels high. */
export function lineRows(top: number, bottom: number, height: number): [number, number] {
  const r0 = Math.max(0, Math.floor((top / height) * THUMB_H));
  return [r0, Math.max(r0, Math.min(THUMB_H - 1, Math.floor(((bottom - 1) / height) * THUMB_H)))];
}

/** Mean grey level of a thumbnail (dark themes are inverted before reading). */
export function meanOf(px: Uint8Array): number {
  let s = 0;
  for (const v of px) s += v;
  return px.length ? s / px.length : 0;
}
