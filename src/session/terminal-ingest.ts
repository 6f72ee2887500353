/**
 * Terminal output into the store: reads what `traced shell` appended to the
 * cast files of a session folder and stores it as `terminal.output` events
 * (channel `terminal`) through the event writer — gated again, indexed for
 * search like any other event text — plus the writer's markers
 * (`terminal.output_dropped`, `terminal.exit`, `terminal.stopped`).
 *
 * Each `terminal.output` event holds the escape-stripped lines a stream
 * printed within one second (at most ~8 KB of text), at the time the first of
 * them was printed, so a search hit on a line lands within a second of the
 * moment it appeared. Each event carries `end_byte`, how far into its cast
 * file the store has read: a daemon that restarts continues from the largest
 * one, so nothing is indexed twice.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Statement } from 'better-sqlite3';
import { castPath, listStreams, parseCastLine, parseMarker, readCastLines, terminalText } from '../timeline/terminal-cast.js';
import type { Store } from '../timeline/store.js';
import type { EventWriter, LateEvent } from './event-writer.js';

export interface TerminalIngestDeps {
  store: Store;
  events: Pick<EventWriter, 'appendLate'>;
  sessionsDir: string;
  log: Logger;
  now: () => number;
}

/** Text of one `terminal.output` event: lines printed within this window and size. */
const BATCH_MS = 1000;
const BATCH_CHARS = 8000;
/** Cast bytes read per stream per pass: a flood is indexed over several passes, the loop stays free. */
const READ_BYTES = 2 * 1024 * 1024;
/** An ended session's streams are still read this long (a shell closes its file when it hears of the stop). */
const AFTER_END_MS = 30_000;

interface StreamState {
  byte: number;
  /** Text of a line not ended yet, and when it began. */
  carry: string;
}

export class TerminalIngest {
  private readonly streams = new Map<string, StreamState>();
  private readonly ended = new Map<string, number>();
  private readonly resumeAt: Statement;

  constructor(private readonly d: TerminalIngestDeps) {
    this.resumeAt = d.store.db.prepare(
      "SELECT MAX(json_extract(data, '$.end_byte')) AS b FROM events WHERE session_id = ? AND channel = 'terminal' AND type LIKE 'terminal.%' AND json_extract(data, '$.stream') = ?",
    );
  }

  /** Reads on for `AFTER_END_MS` after a session ended (its shells are still closing their files). */
  sessionEnded(sessionId: string): void {
    this.ended.set(sessionId, this.d.now() + AFTER_END_MS);
    this.ingest(sessionId);
  }

  /** One pass: the live session's streams and those of sessions that ended a moment ago. */
  tick(liveId: string | undefined): number {
    let n = liveId ? this.ingest(liveId) : 0;
    for (const [id, until] of this.ended) {
      n += this.ingest(id);
      if (this.d.now() > until) {
        this.ended.delete(id);
        for (const k of this.streams.keys()) if (k.startsWith(`${id}/`)) this.streams.delete(k);
      }
    }
    return n;
  }

  /** Stores what the session's streams added since the last pass; returns the events stored. */
  ingest(sessionId: string): number {
    const row = this.d.store.getSession(sessionId);
    if (!row) return 0;
    let stored = 0;
    for (const stream of listStreams(path.join(this.d.sessionsDir, sessionId))) {
      try {
        stored += this.ingestStream(sessionId, stream);
      } catch (err) {
        this.d.log.warn({ err, sessionId, stream }, 'could not index terminal output');
      }
    }
    return stored;
  }

  private ingestStream(sessionId: string, stream: string): number {
    const file = castPath(this.d.sessionsDir, sessionId, stream);
    const key = `${sessionId}/${stream}`;
    let st = this.streams.get(key);
    if (!st) {
      const b = (this.resumeAt.get(sessionId, stream) as { b: number | null }).b;
      st = { byte: b ?? 0, carry: '' };
      this.streams.set(key, st);
    }
    if (fs.lstatSync(file).size <= st.byte) return 0;
    const { lines, end } = readCastLines(file, st.byte, READ_BYTES);
    const out: LateEvent[] = [];
    let batch: { t0: number; text: string[]; chars: number; end: number } | undefined;
    const emit = () => {
      if (!batch) return;
      out.push({
        channel: 'terminal',
        type: 'terminal.output',
        offset_ms: Math.round(batch.t0 * 1000),
        data: { text: batch.text.join('\n'), stream, lines: batch.text.length, end_byte: batch.end },
      });
      batch = undefined;
    };
    for (const l of lines) {
      const p = parseCastLine(l.text);
      if (!p || !('event' in p)) continue;
      const { t, code, data } = p.event;
      if (code === 'm') {
        const m = parseMarker(data);
        if (!m || !/^terminal\.(output_dropped|exit|stopped)$/.test(m.type)) continue;
        emit();
        const { type, ...rest } = m;
        out.push({ channel: 'terminal', type, offset_ms: Math.round(t * 1000), data: { ...rest, stream, end_byte: l.end } });
        continue;
      }
      if (code !== 'o') continue;
      const parts = (st.carry + terminalText(data)).split('\n');
      st.carry = (parts.pop() ?? '').slice(-BATCH_CHARS);
      for (const line of parts) {
        const text = line.trimEnd();
        if (!text.trim()) continue;
        if (batch && (t - batch.t0 > BATCH_MS / 1000 || batch.chars + text.length > BATCH_CHARS)) emit();
        batch ??= { t0: t, text: [], chars: 0, end: l.end };
        batch.text.push(text.slice(0, BATCH_CHARS));
        batch.chars += text.length + 1;
        batch.end = l.end;
      }
    }
    emit();
    st.byte = end;
    if (!out.length) return 0;
    return this.d.events.appendLate(sessionId, out).length;
  }
}
