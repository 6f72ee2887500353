/**
 * Events that reach a session after the fact, from outside the daemon's own
 * channels: commands from the shell hooks' spool and AI-assistant transcripts.
 * Both go through the event writer; both are de-duplicated against the store,
 * so reading the same source twice stores nothing twice.
 */
import path from 'node:path';
import { claudeCodeEvents, claudeProjectsDir } from '../capture/assistant.js';
import type { TerminalRecord } from '../capture/terminal.js';
import type { Store } from '../timeline/store.js';
import type { EventWriter, LateEvent } from './event-writer.js';

export interface LateIngestDeps {
  store: Store;
  events: EventWriter;
  now: () => number;
  env: Readonly<Record<string, string | undefined>>;
  assistant: { claudeCode: boolean; claudeDir?: string | undefined };
  /** The live session (id and start), when one records. */
  live: () => { id: string; startedAt: number } | undefined;
}

export class LateIngest {
  constructor(private readonly d: LateIngestDeps) {}

  /**
   * Commands from the shell hooks' spool: each goes to the session whose time
   * it falls in (the live one, or one that has ended), at its own start time.
   * A command already stored (same session, time and text) is not stored again.
   */
  terminal(records: readonly TerminalRecord[]): number {
    let stored = 0;
    const bySession = new Map<string, LateEvent[]>();
    const live = this.d.live();
    for (const r of records) {
      const row = live && r.start_ms >= live.startedAt ? this.d.store.getSession(live.id) : this.d.store.sessionAt(r.start_ms);
      if (!row) continue;
      const offset = r.start_ms - row.started_at;
      const data = {
        command: r.command,
        exit_code: r.exit_code,
        cwd: r.cwd,
        duration_ms: Math.max(0, r.end_ms - r.start_ms),
        shell: r.shell,
        in_project: r.cwd === row.project || r.cwd.startsWith(`${row.project}${path.sep}`),
        ...(r.stream ? { stream: r.stream } : {}),
      };
      if (this.d.store.hasEventAt(row.id, 'terminal.command', offset, this.d.events.gate(data).command as string)) continue;
      const list = bySession.get(row.id) ?? [];
      list.push({ channel: 'terminal', type: 'terminal.command', offset_ms: offset, data });
      bySession.set(row.id, list);
    }
    for (const [sid, evs] of bySession) stored += this.d.events.appendLate(sid, evs).length;
    return stored;
  }

  /** Brings in the AI-assistant events of a session (live or ended) that are not there yet. */
  assistant(sessionId: string): number {
    if (!this.d.assistant.claudeCode) return 0;
    const row = this.d.store.getSession(sessionId);
    if (!row) return 0;
    const found = claudeCodeEvents({
      dir: this.d.assistant.claudeDir ?? claudeProjectsDir(this.d.env),
      project: row.project,
      from: row.started_at,
      to: row.ended_at ?? this.d.now(),
      startedAt: row.started_at,
    });
    const fresh = found.filter((e) => !this.d.store.hasEventAt(sessionId, e.type, e.offset_ms, String(e.data.uuid)));
    if (fresh.length) this.d.events.appendLate(sessionId, fresh);
    return fresh.length;
  }
}
