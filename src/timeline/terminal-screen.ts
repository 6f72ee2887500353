/**
 * The terminal screen at a moment: the recorded output of a `traced shell`
 * stream replayed into a headless terminal emulator (@xterm/headless, the
 * parser of VS Code's terminal) up to that moment.
 *
 * Keyframes make seeks fast: while replaying, the screen is snapshotted every
 * KEYFRAME_BYTES of output (its text, cursor and whether a full-screen
 * program had the alternate screen); a later seek starts from the nearest
 * snapshot before the moment instead of from the start. A snapshot keeps the
 * text, not colours, which is all a screen in a reply shows. xterm parses
 * about 5 MB/s here, so a 64 MB stream (the default cap) costs one pass of
 * ~13 s on the first seek to its end and well under a second after.
 */
import path from 'node:path';
import xterm from '@xterm/headless';
import type { TerminalScreen } from '../model.js';
import { type CastEvent, castPath, listStreams, readCastLines, parseCastLine } from './terminal-cast.js';

const KEYFRAME_BYTES = 512 * 1024;
/** Streams whose parsed events and keyframes are kept. */
const CACHED_STREAMS = 4;

interface Snapshot {
  cols: number;
  rows: number;
  lines: string[];
  x: number;
  y: number;
  alternate: boolean;
}

interface Parsed {
  byte: number;
  cols: number;
  rows: number;
  events: CastEvent[];
  /** Snapshot after `index` events. */
  keyframes: { index: number; snap: Snapshot }[];
}

type Term = InstanceType<typeof xterm.Terminal>;

export class TerminalScreens {
  private readonly cache = new Map<string, Parsed>();

  constructor(private readonly sessionsDir: string) {}

  /** The screen of the stream that printed last at or before `atMs`; null when no shell was recorded by then. */
  async at(sessionId: string, atMs: number): Promise<Omit<TerminalScreen, 'command'> | null> {
    let best: { stream: string; p: Parsed; index: number; t: number } | undefined;
    for (const stream of listStreams(path.join(this.sessionsDir, sessionId))) {
      const p = this.load(castPath(this.sessionsDir, sessionId, stream));
      // Events up to the moment (their times only grow within a stream).
      let lo = 0;
      let hi = p.events.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (((p.events[mid] as CastEvent).t * 1000 <= atMs ? 0 : 1) === 0) lo = mid + 1;
        else hi = mid;
      }
      let last = lo - 1;
      while (last >= 0 && (p.events[last] as CastEvent).code !== 'o') last--;
      if (last < 0) continue;
      const t = (p.events[last] as CastEvent).t;
      if (!best || t > best.t) best = { stream, p, index: lo, t };
    }
    if (!best) return null;
    const snap = await this.replay(best.p, best.index);
    return {
      stream: best.stream,
      offset_ms: Math.round(best.t * 1000),
      cols: snap.cols,
      rows: snap.rows,
      lines: trimBottom(snap.lines),
      cursor: { x: snap.x, y: snap.y },
      alternate: snap.alternate,
    };
  }

  /** The stream's events, read on from where the last call stopped when the file grew. */
  private load(file: string): Parsed {
    let p = this.cache.get(file);
    if (!p) {
      p = { byte: 0, cols: 80, rows: 24, events: [], keyframes: [] };
      this.cache.set(file, p);
      while (this.cache.size > CACHED_STREAMS) this.cache.delete(this.cache.keys().next().value as string);
    }
    for (;;) {
      const { lines, end } = readCastLines(file, p.byte, 16 * 1024 * 1024);
      for (const l of lines) {
        const e = parseCastLine(l.text);
        if (!e) continue;
        if ('header' in e) {
          p.cols = clampSize(e.header.width, 80);
          p.rows = clampSize(e.header.height, 24);
        } else p.events.push(e.event);
      }
      if (end === p.byte) break;
      p.byte = end;
    }
    return p;
  }

  /** The screen after the first `index` events, from the nearest keyframe before it. */
  private async replay(p: Parsed, index: number): Promise<Snapshot> {
    let start = { index: 0, snap: undefined as Snapshot | undefined };
    for (const k of p.keyframes) if (k.index <= index && k.index > start.index) start = k;
    const from = start.snap;
    const term = new xterm.Terminal({ cols: from?.cols ?? p.cols, rows: from?.rows ?? p.rows, scrollback: 0, allowProposedApi: true });
    const tame = csiTamer();
    try {
      if (from) await write(term, restore(from));
      let pending = '';
      let sinceKey = 0;
      for (let i = start.index; i < index; i++) {
        const e = p.events[i] as CastEvent;
        if (e.code === 'o') {
          pending += e.data;
          sinceKey += e.data.length;
        } else if (e.code === 'r') {
          const m = /^(\d+)x(\d+)$/.exec(e.data);
          if (m) {
            await write(term, tame(pending));
            pending = '';
            term.resize(clampSize(Number(m[1]), term.cols), clampSize(Number(m[2]), term.rows));
          }
        }
        if (sinceKey >= KEYFRAME_BYTES) {
          await write(term, tame(pending));
          pending = '';
          sinceKey = 0;
          if (!p.keyframes.some((k) => k.index === i + 1)) {
            p.keyframes.push({ index: i + 1, snap: snapshot(term) });
            p.keyframes.sort((a, b) => a.index - b.index);
          }
        }
      }
      await write(term, tame(pending, true));
      return snapshot(term);
    } finally {
      term.dispose();
    }
  }
}

function write(term: Term, data: string): Promise<void> {
  return data ? new Promise((resolve) => term.write(data, resolve)) : Promise.resolve();
}

/** The largest number a control sequence may carry into the emulator. */
export const MAX_CSI_PARAM = 9999;

/**
 * Control sequences with their numbers capped at MAX_CSI_PARAM: @xterm/headless
 * loops once per count on scroll, insert/delete line and repeat (`ESC[99999999S`
 * held the daemon's thread for minutes), and no screen needs more than that. A
 * sequence cut at the end of `data` is held back for the next call, so a number
 * split across writes is capped too.
 */
export function csiTamer(): (data: string, final?: boolean) => string {
  let held = '';
  return (data, final = false) => {
    let text = held + data;
    held = '';
    if (!final) {
      const cut = /(?:\x1b\[|\x9b)[0-9;:?<=>]*$|\x1b$/.exec(text);
      if (cut) {
        held = text.slice(cut.index);
        text = text.slice(0, cut.index);
      }
    }
    return text.replace(
      /(\x1b\[|\x9b)([0-9;:?<=>]*)/g,
      (_m, intro: string, params: string) => intro + params.replace(/\d+/g, (n) => (n.length > 4 ? String(MAX_CSI_PARAM) : n)),
    );
  };
}

function snapshot(term: Term): Snapshot {
  const b = term.buffer.active;
  const lines: string[] = [];
  for (let y = 0; y < term.rows; y++) lines.push(b.getLine(b.viewportY + y)?.translateToString(true) ?? '');
  return { cols: term.cols, rows: term.rows, lines, x: b.cursorX, y: b.cursorY, alternate: b.type === 'alternate' };
}

/** Escape sequences that put a snapshot's text and cursor back on an empty terminal. */
function restore(s: Snapshot): string {
  return `${s.alternate ? '\x1b[?1049h' : ''}\x1b[H\x1b[2J${s.lines.map((l, i) => `\x1b[${i + 1};1H${l}`).join('')}\x1b[${s.y + 1};${s.x + 1}H`;
}

function trimBottom(lines: string[]): string[] {
  let n = lines.length;
  while (n > 0 && !(lines[n - 1] as string).trim()) n--;
  return lines.slice(0, n);
}

/** A terminal size from a file: sane or the fallback (a hostile header must not allocate a huge buffer). */
function clampSize(n: number, fallback: number): number {
  return Number.isInteger(n) && n >= 2 && n <= 1000 ? n : fallback;
}
