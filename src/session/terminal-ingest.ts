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
import { type MarkedCommand, markTokens, PromptMarks } from './prompt-marks.js';

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
/** A hook record with no stream (a hook from before streams were reported) this close to a marked command, with its text, is that command. */
const SAME_COMMAND_MS = 1500;

interface StreamState {
  byte: number;
  /** Text of a line not ended yet, and when it began. */
  carry: string;
  marks: PromptMarks;
  /** The shell hook reports this stream's commands: its prompt marks are not used. */
  hooked: boolean;
}

export class TerminalIngest {
  private readonly streams = new Map<string, StreamState>();
  private readonly ended = new Map<string, number>();
  private readonly resumeAt: Statement;
  private readonly hookedStream: Statement;
  private readonly hookedNear: Statement;

  constructor(private readonly d: TerminalIngestDeps) {
    this.resumeAt = d.store.db.prepare(
      "SELECT MAX(json_extract(data, '$.end_byte')) AS b FROM events WHERE session_id = ? AND channel = 'terminal' AND type LIKE 'terminal.%' AND json_extract(data, '$.stream') = ?",
    );
    this.hookedStream = d.store.db.prepare(
      "SELECT 1 FROM events WHERE session_id = ? AND type = 'terminal.command' AND json_extract(data, '$.stream') = ? AND json_extract(data, '$.source') IS NOT 'prompt_marks' LIMIT 1",
    );
    this.hookedNear = d.store.db.prepare(
      "SELECT data FROM events WHERE session_id = ? AND type = 'terminal.command' AND offset_ms BETWEEN ? AND ? AND json_extract(data, '$.stream') IS NULL AND json_extract(data, '$.source') IS NOT 'prompt_marks' LIMIT 20",
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
      st = { byte: imported ? Number.MAX_SAFE_INTEGER : (b ?? 0), carry: '', marks: new PromptMarks(), hooked: false };
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
      // Text goes to the lines; prompt marks to the command reader. A command's output starts a new event at
      // its C mark, so its first line is not stored with the line typed before it.
      for (const tok of markTokens(data)) {
        if ('text' in tok) {
          st.marks.text(tok.text);
          const parts = (st.carry + terminalText(tok.text)).split('\n');
          st.carry = (parts.pop() ?? '').slice(-BATCH_CHARS);
          for (const line of parts) add(line, l.end);
          continue;
        }
        const r = st.marks.mark(tok.code, tok.body, t);
        if (r.outputStarts) {
          if (st.carry.trim()) add(st.carry, l.end);
          st.carry = '';
          emit();
        }
        if (r.ended && !this.reportedByHook(sessionId, stream, st, r.ended)) {
          emit();
          out.push(this.marked(sessionId, stream, r.ended, l.end));
        }
      }
    }
    emit();
    st.byte = end;
    return out.length ? this.append(sessionId, out) : 0;
  }

  /** Stores the events; one the gate refuses (it should not: every field is bounded) costs only itself. */
  private append(sessionId: string, out: LateEvent[]): number {
    try {
      return this.d.events.appendLate(sessionId, out).length;
    } catch (err) {
      let n = 0;
      for (const e of out) {
        try {
          n += this.d.events.appendLate(sessionId, [e]).length;
        } catch (one) {
          this.d.log.warn({ err: one, type: e.type }, 'a terminal event was refused');
        }
      }
      this.d.log.debug({ err }, 'terminal events stored one by one');
      return n;
    }
  }

  /**
   * Whether the shell hook reports this command: it does for every command of a stream once one
   * of its records names the stream (hooks report $TRACED_SHELL; the hook writes its record at
   * the prompt, before the prompt's marks reach the cast file, and the spool is read before the
   * casts). A record from an older hook names no stream: the same text within 1.5 s is the same
   * command. The hook knows the cwd and the exact history line, so its record wins.
   */
  private reportedByHook(sessionId: string, stream: string, st: StreamState, c: MarkedCommand): boolean {
    if (!st.hooked && this.hookedStream.get(sessionId, stream)) st.hooked = true;
    if (st.hooked) return true;
    const at = Math.round(c.t * 1000);
    const text = c.command.replace(/\s+/g, ' ').trim();
    return (this.hookedNear.all(sessionId, at - SAME_COMMAND_MS, at + SAME_COMMAND_MS) as { data: string }[]).some((r) => {
      try {
        return (
          String((JSON.parse(r.data) as { command?: unknown }).command ?? '')
            .replace(/\s+/g, ' ')
            .trim() === text
        );
      } catch {
        return false;
      }
    });
  }

  private marked(sessionId: string, stream: string, c: MarkedCommand, endByte: number): LateEvent {
    const project = this.d.store.getSession(sessionId)?.project;
    const inProject = c.local && c.cwd !== null && project !== undefined && (c.cwd === project || c.cwd.startsWith(`${project}${path.sep}`));
    return {
      channel: 'terminal',
      type: 'terminal.command',
      offset_ms: Math.round(c.t * 1000),
      // end_byte: a restarted daemon resumes after it, so the command is not read twice.
      data: {
        command: c.command,
        exit_code: c.exit_code,
        cwd: c.cwd,
        duration_ms: c.duration_ms,
        in_project: inProject,
        source: 'prompt_marks',
        stream,
        end_byte: endByte,
      },
    };
  }
}
