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
import { castPath, isImportedCast, listStreams, parseCastLine, parseMarker, readCastLines, terminalText } from '../timeline/terminal-cast.js';
import type { Store } from '../timeline/store.js';
import type { EventWriter, LateEvent } from './event-writer.js';
import { type MarkedCommand, PromptMarks } from './prompt-marks.js';

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
/** The prompt mark that says a command's output starts. */
const OUTPUT_STARTS = /\x1b\](?:133|633);C(?:;[^\x07\x1b]*)?(?:\x07|\x1b\\)/;

/** A command from prompt marks waits this long (wall clock) for the shell hook's record of it, which wins. */
const HOOK_WAIT_MS = 2500;
/** A hook record this close to a marked command's start is the same command. */
const SAME_COMMAND_MS = 1500;

interface StreamState {
  byte: number;
  /** Text of a line not ended yet, and when it began. */
  carry: string;
  marks: PromptMarks;
  /** Commands from prompt marks waiting out `HOOK_WAIT_MS`, and since when. */
  held: { ev: LateEvent; since: number }[];
}

export class TerminalIngest {
  private readonly streams = new Map<string, StreamState>();
  private readonly ended = new Map<string, number>();
  private readonly resumeAt: Statement;
  private readonly hooked: Statement;

  constructor(private readonly d: TerminalIngestDeps) {
    this.resumeAt = d.store.db.prepare(
      "SELECT MAX(json_extract(data, '$.end_byte')) AS b FROM events WHERE session_id = ? AND channel = 'terminal' AND type LIKE 'terminal.%' AND json_extract(data, '$.stream') = ?",
    );
    this.hooked = d.store.db.prepare(
      "SELECT 1 FROM events WHERE session_id = ? AND type = 'terminal.command' AND offset_ms BETWEEN ? AND ? AND json_extract(data, '$.source') IS NOT 'prompt_marks' LIMIT 1",
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
      // A cast rebuilt from an imported recording's events: its lines are events already.
      const imported = isImportedCast(file);
      st = { byte: imported ? Number.MAX_SAFE_INTEGER : (b ?? 0), carry: '', marks: new PromptMarks(), held: [] };
      this.streams.set(key, st);
    }
    const released = this.release(sessionId, st);
    if (fs.lstatSync(file).size <= st.byte) return released;
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
    let t = 0;
    const add = (line: string, endByte: number) => {
      const text = line.trimEnd();
      if (!text.trim()) return;
      if (batch && (t - batch.t0 > BATCH_MS / 1000 || batch.chars + text.length > BATCH_CHARS)) emit();
      batch ??= { t0: t, text: [], chars: 0, end: endByte };
      batch.text.push(text.slice(0, BATCH_CHARS));
      batch.chars += text.length + 1;
      batch.end = endByte;
    };
    for (const l of lines) {
      const p = parseCastLine(l.text);
      if (!p || !('event' in p)) continue;
      const { code, data } = p.event;
      t = p.event.t;
      if (code === 'm') {
        const m = parseMarker(data);
        if (!m || !/^terminal\.(output_dropped|exit|stopped)$/.test(m.type)) continue;
        emit();
        const { type, ...rest } = m;
        out.push({ channel: 'terminal', type, offset_ms: Math.round(t * 1000), data: { ...rest, stream, end_byte: l.end } });
        continue;
      }
      if (code !== 'o') continue;
      for (const c of st.marks.feed(data, t)) st.held.push({ ev: this.marked(sessionId, stream, c), since: this.d.now() });
      // A command's output starts a new event at its prompt mark (OSC 133;C), so its first line is not
      // stored with the line typed before it.
      const pieces = data.split(OUTPUT_STARTS);
      pieces.forEach((piece, i) => {
        if (i > 0) {
          if (st.carry.trim()) add(st.carry, l.end);
          st.carry = '';
          emit();
        }
        const parts = (st.carry + terminalText(piece)).split('\n');
        st.carry = (parts.pop() ?? '').slice(-BATCH_CHARS);
        for (const line of parts) add(line, l.end);
      });
    }
    emit();
    st.byte = end;
    if (!out.length) return released;
    return released + this.d.events.appendLate(sessionId, out).length;
  }

  /**
   * Commands the prompt marks reported, once the shell hook had time to report them too: a
   * shell with both (the hook in a terminal whose integration also marks prompts) has each
   * command once, from the hook (it knows the cwd and the exact history line).
   */
  private release(sessionId: string, st: StreamState): number {
    if (!st.held.length) return 0;
    const now = this.d.now();
    const ready = st.held.filter((h) => now - h.since >= HOOK_WAIT_MS);
    if (!ready.length) return 0;
    st.held = st.held.filter((h) => now - h.since < HOOK_WAIT_MS);
    const fresh = ready.map((h) => h.ev).filter((e) => !this.hooked.get(sessionId, e.offset_ms - SAME_COMMAND_MS, e.offset_ms + SAME_COMMAND_MS));
    return fresh.length ? this.d.events.appendLate(sessionId, fresh).length : 0;
  }

  private marked(sessionId: string, stream: string, c: MarkedCommand): LateEvent {
    const project = this.d.store.getSession(sessionId)?.project;
    const inProject = c.cwd !== null && project !== undefined && (c.cwd === project || c.cwd.startsWith(`${project}${path.sep}`));
    return {
      channel: 'terminal',
      type: 'terminal.command',
      offset_ms: Math.round(c.t * 1000),
      data: { command: c.command, exit_code: c.exit_code, cwd: c.cwd, duration_ms: c.duration_ms, in_project: inProject, source: 'prompt_marks', stream },
    };
  }
}
