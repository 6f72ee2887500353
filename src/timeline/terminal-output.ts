/**
 * Read views of terminal output: what a command printed (paged within the
 * reply budget), and which command a moment of output belongs to. Commands
 * come from the shell hook or the terminal's prompt marks (`terminal.command`:
 * start offset and duration); output from `traced shell` (`terminal.output`, see session/terminal-ingest.ts).
 * They are joined by time: a line printed while a command ran is that
 * command's output.
 */
import type { Statement } from 'better-sqlite3';
import type { GetTerminalOutputOutput, SearchOutput, TerminalCommandRef, TerminalScreen } from '../model.js';
import { fitPage, fitsAlone } from './budget.js';
import { atOffset } from './clock.js';
import { wallClockBytes } from '../model/clock.js';
import { redact } from './redact.js';
import type { Store } from './store.js';
import { redactTerminal } from './terminal-cast.js';
import type { TerminalScreens } from './terminal-screen.js';

type TerminalChunk = GetTerminalOutputOutput['chunks'][number];

/** The hook notes a command's end after its last output reached the terminal: allow for that much. */
const END_SLACK_MS = 1500;
/**
 * A `terminal.output` event holds the lines of up to a second from its time on: one that began
 * this much before a command started can hold the command's first lines (a fast command prints
 * in the same second as the line that was typed for it).
 */
const BATCH_SPAN_MS = 1000;
/** With `at` and no command there, output this far on either side. */
const AROUND_MS = 10_000;

export interface TerminalOutputQuery {
  sessionId: string;
  commandSeq?: number | undefined;
  atMs?: number | undefined;
  fromMs?: number | undefined;
  toMs?: number | undefined;
  afterSeq?: number | undefined;
  /** With `afterSeq`: that chunk continues from this character (it was cut to fit the last page). */
  afterChar?: number | undefined;
  maxBytes: number;
}

export class TerminalOutput {
  private readonly before: Statement;
  private readonly bySeq: Statement;

  /** `screens`: where screens at a moment come from (absent in read workers, which only link search hits). */
  constructor(
    private readonly store: Store,
    private readonly screens?: TerminalScreens,
  ) {
    this.before = store.db.prepare(
      "SELECT * FROM events WHERE session_id = ? AND type = 'terminal.command' AND offset_ms <= ? ORDER BY offset_ms DESC, seq DESC LIMIT 8",
    );
    this.bySeq = store.db.prepare("SELECT * FROM events WHERE session_id = ? AND seq = ? AND type = 'terminal.command'");
  }

  /** The command that was running at `offsetMs`, if the shell hook reported one. */
  commandAt(sessionId: string, offsetMs: number): TerminalCommandRef | null {
    for (const r of this.before.all(sessionId, offsetMs) as Parameters<typeof toRef>[0][]) {
      const c = toRef(r);
      if (offsetMs <= c.offset_ms + (c.duration_ms ?? 0) + END_SLACK_MS) return c;
    }
    return null;
  }

  /** A page of output: a command's, a moment's, a range's or the session's. */
  get(q: TerminalOutputQuery): GetTerminalOutputOutput {
    const row = this.store.getSession(q.sessionId);
    const startedAt = row?.started_at ?? 0;
    let command: TerminalCommandRef | null = null;
    let from = q.fromMs ?? 0;
    let to = q.toMs;
    if (q.commandSeq !== undefined) {
      const r = this.bySeq.get(q.sessionId, q.commandSeq) as Parameters<typeof toRef>[0] | undefined;
      command = r ? toRef(r) : null;
      if (!command) return { session_id: q.sessionId, command: null, from_ms: 0, to_ms: 0, chunks: [], dropped: [], next_after_seq: null };
    } else if (q.atMs !== undefined) {
      command = this.commandAt(q.sessionId, q.atMs);
      if (!command) {
        from = Math.max(0, q.atMs - AROUND_MS);
        to = q.atMs + AROUND_MS;
      }
    }
    if (command) {
      from = Math.max(0, command.offset_ms - BATCH_SPAN_MS);
      to = command.offset_ms + (command.duration_ms ?? 0) + END_SLACK_MS;
    }
    // One more than a page holds: a full page then says there is more (it said "done" at exactly 2000).
    const inside = q.afterSeq !== undefined && q.afterSeq > 0 && q.afterChar !== undefined;
    const events = this.store.events({
      sessionId: q.sessionId,
      fromMs: from,
      toMs: to,
      types: ['terminal.output'],
      afterSeq: (q.afterSeq ?? 0) - (inside ? 1 : 0),
      limit: 2001,
    });
    const chunks: TerminalChunk[] = events.map((e) => ({
      seq: e.seq,
      offset_ms: e.offset_ms,
      at: atOffset(startedAt, e.offset_ms),
      stream: String(e.data.stream ?? ''),
      text: String(e.data.text ?? ''),
    }));
    // The rest of a chunk cut on the last page.
    const first = chunks[0];
    if (inside && first && first.seq === q.afterSeq) {
      const start = Math.min(q.afterChar ?? 0, first.text.length);
      chunks[0] = { ...first, text: first.text.slice(start), from_char: start };
    }
    // What the reply holds besides the chunks counts against the budget too, and gets at most a quarter
    // of it: a long command line is shortened here (get_timeline has it whole), the drop marks are the
    // first that fit (get_timeline types=terminal.output_dropped lists them all).
    const side = Math.floor(q.maxBytes / 4);
    if (command) command = { ...command, command: shorten(command.command, Math.floor(side / 2)) };
    const dropped: GetTerminalOutputOutput['dropped'] = [];
    let sideBytes = Buffer.byteLength(JSON.stringify(command)) + wallClockBytes(command ?? {});
    for (const e of this.store.events({ sessionId: q.sessionId, fromMs: from, toMs: to, types: ['terminal.output_dropped'], limit: 20 })) {
      const d = { offset_ms: e.offset_ms, stream: String(e.data.stream ?? ''), max_bytes: typeof e.data.max_bytes === 'number' ? e.data.max_bytes : null };
      const size = Buffer.byteLength(JSON.stringify(d)) + 1 + wallClockBytes(d);
      if (sideBytes + size > side) break;
      dropped.push(d);
      sideBytes += size;
    }
    const used = Buffer.byteLength(JSON.stringify({ dropped, command })) + wallClockBytes({ dropped, command });
    const { page, more } = fitPage(chunks, 2000, q.maxBytes, used);
    const last = page[page.length - 1];
    let next = { seq: more && last ? last.seq : null, char: null as number | null };
    // One chunk larger than the whole budget: this page has the part that fits, the next page the rest.
    const only = page[0];
    if (page.length === 1 && only && !fitsAlone(only, q.maxBytes, used)) {
      const keep = charsThatFit(only, q.maxBytes, used);
      if (keep < only.text.length) {
        page[0] = { ...only, text: only.text.slice(0, keep) };
        next = { seq: only.seq, char: (only.from_char ?? 0) + keep };
      }
    }
    return {
      session_id: q.sessionId,
      command,
      from_ms: from,
      to_ms: to ?? null,
      chunks: page,
      dropped,
      next_after_seq: next.seq,
      ...(next.char !== null ? { next_after_char: next.char } : {}),
    };
  }

  /** The recorded terminal's screen at a moment, with the command running then; null when no shell was recorded by then. */
  async screenAt(sessionId: string, atMs: number): Promise<TerminalScreen | null> {
    const screen = await this.screens?.at(sessionId, atMs);
    if (!screen) return null;
    // What the screen shows was redacted line by line as it was printed, but a program that draws a secret in
    // pieces (cursor moves, backspaces) puts it back together on screen: the screen goes through the gate too.
    const lines = redactTerminal(screen.lines.join('\n'), redact).split('\n');
    return { ...screen, lines, command: this.commandAt(sessionId, atMs) };
  }

  /** Search hits on terminal output, each with the command it belongs to. */
  linkHits(hits: SearchOutput['hits']): SearchOutput['hits'] {
    return hits.map((h) => (h.type === 'terminal.output' && h.source === 'local' ? { ...h, command: this.commandAt(h.session_id, h.offset_ms) } : h));
  }
}

function toRef(r: { seq: number; offset_ms: number; data: string }): TerminalCommandRef {
  let d: Record<string, unknown> = {};
  try {
    d = JSON.parse(r.data) as Record<string, unknown>;
  } catch {
    // a row whose data is not JSON links as a bare command
  }
  const int = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) ? v : null);
  return { seq: r.seq, offset_ms: r.offset_ms, command: String(d.command ?? ''), exit_code: int(d.exit_code), duration_ms: int(d.duration_ms) };
}

/**
 * How many characters of a chunk's text fit the budget on their own (at least one, so paging
 * always moves on): cut after a line where one ends in the second half, never inside a
 * surrogate pair.
 */
function charsThatFit(chunk: TerminalChunk, maxBytes: number, used: number): number {
  const fits = (k: number) => fitsAlone({ ...chunk, text: chunk.text.slice(0, k) }, maxBytes, used);
  let lo = 1;
  let hi = chunk.text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  let k = lo;
  const nl = chunk.text.lastIndexOf('\n', k - 1);
  if (nl + 1 > k / 2) k = nl + 1;
  const c = chunk.text.charCodeAt(k - 1);
  // Never half a surrogate pair: one fewer, or (at the very start) the whole pair.
  if (c >= 0xd800 && c <= 0xdbff) k += k > 1 ? -1 : 1;
  return Math.min(k, chunk.text.length);
}

/** `s` cut so its JSON takes at most `maxJsonBytes`, marked with an ellipsis when cut. */
function shorten(s: string, maxJsonBytes: number): string {
  if (Buffer.byteLength(JSON.stringify(s)) <= maxJsonBytes) return s;
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (Buffer.byteLength(JSON.stringify(`${s.slice(0, mid)}…`)) <= maxJsonBytes) lo = mid;
    else hi = mid - 1;
  }
  const c = s.charCodeAt(lo - 1);
  return `${s.slice(0, c >= 0xd800 && c <= 0xdbff ? lo - 1 : lo)}…`;
}
