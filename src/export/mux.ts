/**
 * One MP4 of a session: the primary (or a chosen) display plus every stored
 * audio channel mixed, on the session clock, optionally cut to a range. Each
 * channel becomes an ffconcat list of its segments with generated black or
 * silent fillers for the time it has no media (before its first segment, in
 * restart and privacy gaps, while paused), so every channel starts at offset 0
 * and stays in sync. Used by `export_session` (mp4), clips, and the VideoDB
 * session upload.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCodes, TracedError } from '../errors.js';
import { run, spawnTied } from '../capture/proc.js';

export interface MuxSegment {
  channel_id: string;
  seq: number;
  /** Relative to the session folder. */
  path: string;
  start_offset_ms: number;
  duration_ms: number | null;
}

export interface MuxOptions {
  ffmpeg: string;
  sessionDir: string;
  segments: readonly MuxSegment[];
  /** Display channel to use; the lowest-numbered display otherwise. */
  display?: string | undefined;
  fromMs?: number | undefined;
  toMs?: number | undefined;
  out: string;
  tmpDir: string;
  fps?: number;
  onProgress?: (doneMs: number, totalMs: number) => void;
  signal?: AbortSignal;
}

export interface MuxResult {
  file: string;
  duration_ms: number;
  video: string | null;
  audio: string[];
  bytes: number;
}

/** Smallest gap worth a filler; shorter ones are absorbed by the encoder's timestamps. */
const MIN_GAP_MS = 40;

export async function muxSession(o: MuxOptions): Promise<MuxResult> {
  const byChannel = new Map<string, MuxSegment[]>();
  for (const s of o.segments) {
    if (!s.duration_ms || s.duration_ms <= 0) continue;
    const list = byChannel.get(s.channel_id) ?? [];
    list.push(s);
    byChannel.set(s.channel_id, list);
  }
  const displays = [...byChannel.keys()].filter((c) => c.startsWith('display:')).sort((a, b) => Number(a.split(':')[1]) - Number(b.split(':')[1]));
  const video = o.display ?? displays[0] ?? null;
  if (o.display && !byChannel.has(o.display))
    throw new TracedError(ErrorCodes.INVALID_PARAMS, `the session has no stored media for ${o.display} (has: ${[...byChannel.keys()].join(', ') || 'none'})`);
  const audio = [...byChannel.keys()].filter((c) => /^(mic|system_audio):/.test(c)).sort();
  if (!video && audio.length === 0) throw new TracedError(ErrorCodes.EXPORT_NO_MEDIA, 'the session has no stored screen or audio to export');
  const end = Math.max(...[...byChannel.values()].flat().map((s) => s.start_offset_ms + (s.duration_ms ?? 0)));
  const from = Math.max(0, o.fromMs ?? 0);
  const to = Math.min(end, o.toMs ?? end);
  if (to <= from) throw new TracedError(ErrorCodes.INVALID_PARAMS, `empty range: from ${from} ms to ${to} ms (the media ends at ${end} ms)`);

  fs.mkdirSync(o.tmpDir, { recursive: true, mode: 0o700 });
  const work = fs.mkdtempSync(path.join(o.tmpDir, 'mux-'));
  try {
    const fps = o.fps ?? 2;
    const geometry = video ? await videoSize(o.ffmpeg, path.join(o.sessionDir, (byChannel.get(video) as MuxSegment[])[0]!.path)) : undefined;
    // The whole session with screen segments back to back (no restart, pause or privacy hole) keeps the
    // recorded video as is: only the audio is mixed and encoded. Anything else is re-encoded with fillers.
    const vsegs = video ? [...(byChannel.get(video) as MuxSegment[])].sort((a, b) => a.start_offset_ms - b.start_offset_ms) : [];
    const holes = vsegs.slice(1).reduce((a, g, i) => a + Math.max(0, g.start_offset_ms - (vsegs[i]!.start_offset_ms + (vsegs[i]!.duration_ms ?? 0))), 0);
    const copyVideo = !!video && from === 0 && to === end && holes < 500;
    const lists: string[] = [];
    for (const ch of [...(video ? [video] : []), ...audio]) {
      const kind = ch.startsWith('display:') ? 'video' : 'audio';
      lists.push(await concatList(o, work, ch, kind, byChannel.get(ch) as MuxSegment[], end, fps, geometry, kind === 'video' && copyVideo));
    }
    const inputs = lists.flatMap((l, i) => [
      ...(i === 0 && copyVideo && (vsegs[0]?.start_offset_ms ?? 0) > 0 ? ['-itsoffset', seconds(vsegs[0]!.start_offset_ms)] : []),
      '-f',
      'concat',
      '-safe',
      '0',
      '-i',
      l,
    ]);
    const maps: string[] = [];
    const filters: string[] = [];
    if (video) maps.push('-map', '0:v:0');
    const firstAudio = video ? 1 : 0;
    if (audio.length === 1) maps.push('-map', `${firstAudio}:a:0`);
    if (audio.length > 1) {
      filters.push(`${audio.map((_, i) => `[${firstAudio + i}:a:0]`).join('')}amix=inputs=${audio.length}:duration=longest:normalize=0[mixed]`);
      maps.push('-map', '[mixed]');
    }
    const args = [
      '-nostdin',
      '-hide_banner',
      '-loglevel',
      'error',
      '-y',
      ...inputs,
      ...(filters.length ? ['-filter_complex', filters.join(';')] : []),
      ...maps,
      ...(from > 0 ? ['-ss', seconds(from)] : []),
      '-t',
      seconds(to - from),
      ...(copyVideo
        ? ['-c:v', 'copy']
        : video
          ? ['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'stillimage', '-crf', '28', '-pix_fmt', 'yuv420p', '-r', String(fps)]
          : []),
      ...(audio.length ? ['-c:a', 'aac', '-b:a', '64k', '-ac', '1'] : []),
      '-movflags',
      '+faststart',
      '-progress',
      'pipe:1',
      '-nostats',
      `${o.out}.part.mp4`,
    ];
    fs.mkdirSync(path.dirname(o.out), { recursive: true, mode: 0o700 });
    await runWithProgress(o.ffmpeg, args, to - from, o.onProgress, o.signal);
    fs.renameSync(`${o.out}.part.mp4`, o.out);
    return { file: o.out, duration_ms: to - from, video, audio, bytes: fs.statSync(o.out).size };
  } finally {
    fs.rmSync(`${o.out}.part.mp4`, { force: true });
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** An ffconcat list for one channel covering [0, end) on the session clock, fillers in the holes. */
async function concatList(
  o: MuxOptions,
  work: string,
  channel: string,
  kind: 'video' | 'audio',
  segs: MuxSegment[],
  end: number,
  fps: number,
  geometry: { width: number; height: number } | undefined,
  asRecorded = false,
): Promise<string> {
  const lines = ['ffconcat version 1.0'];
  let at = 0;
  let n = 0;
  const filler = async (ms: number) => {
    const file = path.join(work, `${channel.replace(/[^a-z0-9]/gi, '-')}-gap-${n++}.${kind === 'video' ? 'mkv' : 'ogg'}`);
    const src =
      kind === 'video'
        ? [
            '-f',
            'lavfi',
            '-i',
            `color=c=black:s=${geometry?.width ?? 1280}x${geometry?.height ?? 720}:r=${fps}`,
            '-c:v',
            'libx264',
            '-preset',
            'veryfast',
            '-pix_fmt',
            'yuv420p',
          ]
        : ['-f', 'lavfi', '-i', 'anullsrc=r=16000:cl=mono', '-c:a', 'libopus', '-b:a', '24k'];
    const r = await run(o.ffmpeg, ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y', ...src, '-t', seconds(ms), file], {
      timeoutMs: 120_000,
      ...(o.signal ? { signal: o.signal } : {}),
    });
    if (r.code !== 0) throw new TracedError(ErrorCodes.EXPORT_FAILED, `cannot make a ${kind} filler: ${r.stderr.trim()}`);
    lines.push(`file ${quote(file)}`, `duration ${seconds(ms)}`);
  };
  const sorted = [...segs].sort((a, b) => a.start_offset_ms - b.start_offset_ms);
  // As recorded: no fillers (the start offset is applied with -itsoffset, holes are under half a second).
  if (asRecorded) at = sorted[0]?.start_offset_ms ?? 0;
  for (const s of sorted) {
    const gap = s.start_offset_ms - at;
    if (gap >= MIN_GAP_MS && !asRecorded) await filler(gap);
    lines.push(`file ${quote(path.join(o.sessionDir, s.path))}`, `duration ${seconds(s.duration_ms ?? 0)}`);
    at = Math.max(at, s.start_offset_ms) + (s.duration_ms ?? 0);
  }
  if (end - at >= MIN_GAP_MS && !asRecorded) await filler(end - at);
  const file = path.join(work, `${channel.replace(/[^a-z0-9]/gi, '-')}.ffconcat`);
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

async function videoSize(ffmpeg: string, file: string): Promise<{ width: number; height: number } | undefined> {
  const r = await run(ffmpeg, ['-hide_banner', '-i', file], { timeoutMs: 20_000 });
  const m = /Video: .*?(\d{2,5})x(\d{2,5})/.exec(r.stderr);
  return m ? { width: Number(m[1]), height: Number(m[2]) } : undefined;
}

function runWithProgress(
  ffmpeg: string,
  args: string[],
  totalMs: number,
  onProgress: MuxOptions['onProgress'],
  signal: AbortSignal | undefined,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawnTied(ffmpeg, args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true, ...(signal ? { signal } : {}) });
    let stderr = '';
    let buf = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => (stderr = (stderr + d).slice(-8192)));
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const m = /^out_time_us=(\d+)/.exec(line);
        if (m && onProgress) onProgress(Math.min(totalMs, Math.round(Number(m[1]) / 1000)), totalMs);
      }
    });
    child.once('error', (err) => reject(new TracedError(ErrorCodes.EXPORT_FAILED, `ffmpeg could not run: ${err.message}`, { cause: err })));
    child.once('exit', (code, sig) => {
      if (code === 0) {
        onProgress?.(totalMs, totalMs);
        resolve();
      } else reject(new TracedError(ErrorCodes.EXPORT_FAILED, `ffmpeg failed (${sig ?? `exit ${code}`}): ${stderr.trim().split('\n').slice(-3).join(' ')}`));
    });
  });
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

function quote(p: string): string {
  return `'${p.replace(/'/g, "'\\''")}'`;
}

/** One file per channel: its segments joined without re-encoding (`-c copy`), in the channel's own container. */
export async function rawChannelFiles(o: {
  ffmpeg: string;
  sessionDir: string;
  segments: readonly MuxSegment[];
  outDir: string;
}): Promise<{ channel: string; file: string; bytes: number }[]> {
  fs.mkdirSync(o.outDir, { recursive: true, mode: 0o700 });
  const out: { channel: string; file: string; bytes: number }[] = [];
  for (const ch of [...new Set(o.segments.map((s) => s.channel_id))].sort()) {
    const segs = o.segments.filter((s) => s.channel_id === ch).sort((a, b) => a.seq - b.seq);
    const ext = path.extname(segs[0]!.path);
    const list = path.join(o.outDir, `${ch.replace(/[^a-z0-9]/gi, '-')}.ffconcat`);
    fs.writeFileSync(list, `ffconcat version 1.0\n${segs.map((s) => `file ${quote(path.join(o.sessionDir, s.path))}`).join('\n')}\n`);
    const file = path.join(o.outDir, `${ch.replace(/[^a-z0-9]/gi, '-')}${ext}`);
    const r = await run(o.ffmpeg, ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y', '-f', 'concat', '-safe', '0', '-i', list, '-c', 'copy', file], {
      timeoutMs: 600_000,
    });
    fs.rmSync(list, { force: true });
    if (r.code !== 0) throw new TracedError(ErrorCodes.EXPORT_FAILED, `cannot join ${ch}: ${r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`}`);
    out.push({ channel: ch, file, bytes: fs.statSync(file).size });
  }
  return out;
}
