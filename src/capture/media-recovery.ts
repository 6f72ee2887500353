/**
 * Cold-start recovery of media: finds segment files in a session folder that
 * the database does not know (a daemon killed mid-segment never listed its last
 * one), probes them — a truncated Matroska file gets its duration from the last
 * packet — and returns them ready to register, on the session clock.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { SegmentInfo } from './channel.js';
import { fsyncFile, parseSegmentList, probeDurationMs, seqOf, sha256File } from './segments.js';

interface RunDoc {
  start_epoch_ms: number;
  first_seq: number;
  list: string;
}

export async function recoverMediaSegments(opts: {
  sessionDir: string;
  startedAt: number;
  /** `${channelDir}/${seq}` of segments already registered. */
  known: ReadonlySet<string>;
  ffprobe: string;
}): Promise<SegmentInfo[]> {
  const found: SegmentInfo[] = [];
  let dirs: fs.Dirent[];
  try {
    dirs = fs.readdirSync(opts.sessionDir, { withFileTypes: true });
  } catch {
    return found;
  }
  for (const d of dirs) {
    if (!d.isDirectory() || !/^(display|mic|system_audio)-/.test(d.name)) continue;
    const dir = path.join(opts.sessionDir, d.name);
    const channel = d.name.replace(/^(display|mic|system_audio)-/, '$1:');
    const files = fs.readdirSync(dir);
    const runs: (RunDoc & { entries: ReturnType<typeof parseSegmentList> })[] = [];
    for (const f of files.filter((x) => /^run-.*\.json$/.test(x))) {
      try {
        const doc = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as RunDoc;
        let entries: ReturnType<typeof parseSegmentList> = [];
        try {
          entries = parseSegmentList(fs.readFileSync(path.join(dir, doc.list), 'utf8'));
        } catch {
          // the run finished no segment before it died
        }
        runs.push({ ...doc, entries });
      } catch {
        // a torn run file: its segments are still found below, placed after the previous run
      }
    }
    runs.sort((a, b) => a.first_seq - b.first_seq);
    const segs = files
      .map((f) => ({ f, seq: seqOf(f) }))
      .filter((x): x is { f: string; seq: number } => x.seq !== undefined)
      .sort((a, b) => a.seq - b.seq);
    // Place every unknown file on the clock first (cheap), then hash and fsync them 16 at a time.
    let prevEnd = 0;
    const todo: { file: string; f: string; seq: number; start: number; duration: number; listed: boolean }[] = [];
    for (const { f, seq } of segs) {
      if (opts.known.has(`${d.name}/${seq}`)) continue;
      const file = path.join(dir, f);
      const run = [...runs].reverse().find((r) => r.first_seq <= seq);
      const listed = run?.entries.find((e) => seqOf(e.file) === seq);
      const duration = listed ? Math.round((listed.end - listed.start) * 1000) : await probeDurationMs(opts.ffprobe, file);
      if (!duration || duration <= 0) {
        // Not a frame in it (killed as the segment opened): set aside under another name, never deleted, never registered.
        try {
          fs.renameSync(file, `${file}.unreadable`);
        } catch {
          // left as is; found again at the next start
        }
        continue;
      }
      let startInRun: number;
      if (listed) startInRun = listed.start * 1000;
      else {
        const before = run?.entries.filter((e) => (seqOf(e.file) ?? -1) < seq).at(-1);
        startInRun = before ? before.end * 1000 : 0;
      }
      const start = run ? run.start_epoch_ms - opts.startedAt + startInRun : prevEnd;
      prevEnd = start + duration;
      todo.push({ file, f, seq, start, duration, listed: !!listed });
    }
    for (let i = 0; i < todo.length; i += 16) {
      const chunk = todo.slice(i, i + 16);
      const hashed = await Promise.all(
        chunk.map(async (t) => {
          fsyncFile(t.file);
          return { t, bytes: fs.statSync(t.file).size, sha256: await sha256File(t.file) };
        }),
      );
      for (const { t, bytes, sha256 } of hashed) {
        found.push({
          channel,
          seq: t.seq,
          path: path.join(d.name, t.f),
          start_offset_ms: Math.max(0, Math.round(t.start)),
          duration_ms: t.duration,
          bytes,
          sha256,
          repaired: !t.listed,
        });
      }
    }
  }
  return found;
}
