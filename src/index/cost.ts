/**
 * Where the indexer's CPU goes, per stage. Helper processes (ffmpeg,
 * tesseract, pocketsphinx) are counted by the kernel: when a child is reaped
 * its whole user+system time is added to this process's `cutime + cstime`
 * (/proc/self/stat), so the growth of that sum between the moment a helper
 * was started and the moment it was reaped is that helper's CPU. Work in this
 * process (thumbnail comparison, crops, TSV parsing) is counted with
 * `process.cpuUsage()` around the synchronous code that does it.
 *
 * Two loops (screen text and speech) run side by side and other helpers
 * (xdotool for the focused window) are reaped now and then: a child reaped
 * between two takes is charged to the stage that takes next, a few ms each.
 * The exception is a child that was already running when the taking stage's
 * helper started — the capture's ffmpeg, reaped when a session stops, holds
 * minutes of CPU: the live children are looked at on every take, and one of
 * those that is gone is taken out at the CPU it was last seen with (the bench
 * before this charged a stopped capture's 10 s to frame decoding).
 * On platforms without /proc the children's share reads 0.
 */
import fs from 'node:fs';

export const STAGES = ['frame_decode', 'change_detection', 'ocr', 'speech'] as const;
export type Stage = (typeof STAGES)[number];

/** Clock ticks per second of /proc times (USER_HZ: 100 on every Linux build that matters). */
const HZ = 100;

/** CPU ms of this process's reaped children, or undefined without /proc. */
export function reapedChildrenMs(): number | undefined {
  try {
    const s = fs.readFileSync('/proc/self/stat', 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // After the command name: state=0 … utime=11 stime=12 cutime=13 cstime=14.
    return ((Number(f[13]) + Number(f[14])) * 1000) / HZ;
  } catch {
    return undefined;
  }
}

/** Live children of this process: pid → [start time (ticks after boot), CPU ms so far]. */
function liveChildren(): Map<number, [number, number]> {
  const out = new Map<number, [number, number]>();
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const d of pids) {
    try {
      const s = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      // state=0 ppid=1 … utime=11 stime=12 … starttime=19
      if (Number(f[1]) !== process.pid) continue;
      out.set(Number(d), [Number(f[19]), ((Number(f[11]) + Number(f[12])) * 1000) / HZ]);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Now in the same ticks as /proc starttime. */
function ticksSinceBoot(): number {
  try {
    return Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * HZ;
  } catch {
    return 0;
  }
}

export class CpuMeter {
  readonly ms: Record<Stage, number> = { frame_decode: 0, change_detection: 0, ocr: 0, speech: 0 };
  /** Media indexed (ms of recording) per kind, to turn the totals into CPU per recorded minute. */
  readonly media = { ocr: 0, speech: 0 };
  /** Reaped children's CPU not charged to any stage (other helpers of the daemon). */
  other = 0;
  private last = reapedChildrenMs();
  private known = new Map<number, [number, number]>();
  /** Stages with a helper in flight, and when it started (ticks after boot). */
  private readonly open = new Map<Stage, number>();

  /**
   * Charges the children reaped since the last take to `stage` (or to `other`), except those that
   * started before `since` (ticks after boot): they are not this stage's helpers.
   */
  take(stage: Stage | 'other', since = Number.POSITIVE_INFINITY): void {
    const now = reapedChildrenMs();
    if (now === undefined || this.last === undefined) return;
    let d = now - this.last;
    this.last = now;
    const live = liveChildren();
    for (const [pid, [start, cpu]] of this.known) {
      if (live.has(pid) || start >= since) continue;
      const foreign = Math.min(d, cpu);
      d -= foreign;
      this.other += foreign;
    }
    this.known = live;
    if (stage === 'other') this.other += d;
    else this.ms[stage] += d;
  }

  /** Runs `fn` (synchronous), charging this process's CPU during it to `stage`. */
  self<T>(stage: Stage, fn: () => T): T {
    const a = process.cpuUsage();
    try {
      return fn();
    } finally {
      const d = process.cpuUsage(a);
      this.ms[stage] += (d.user + d.system) / 1000;
    }
  }

  /**
   * Runs a helper process: what was reaped before it started is not its cost (it goes to `before`: the
   * stage of the other loop when that one is mid-segment), what is reaped by its end is.
   */
  async child<T>(stage: Stage, fn: () => Promise<T>, before: Stage | 'other' = 'other'): Promise<T> {
    this.take(before, before === 'other' ? undefined : this.open.get(before));
    const since = ticksSinceBoot();
    this.open.set(stage, since);
    try {
      return await fn();
    } finally {
      this.open.delete(stage);
      this.take(stage, since);
    }
  }

  snapshot(): { cpu_ms: Record<Stage, number>; media_ms: { ocr: number; speech: number } } {
    const cpu = Object.fromEntries(STAGES.map((s) => [s, Math.round(this.ms[s])])) as Record<Stage, number>;
    return { cpu_ms: cpu, media_ms: { ...this.media } };
  }
}
