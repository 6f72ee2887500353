/**
 * The parts of a digest (what_happened) that tell what went wrong: failed
 * commands once per command, and failure lines once per failure, each with
 * when it was first and last seen, how often, and the command it belongs to.
 * Pure: events in, lists out.
 */
import type { RecordedEvent } from '../model.js';
import { atOffset } from './clock.js';
import { type FailureKind, failureKey, failureLines } from './failures.js';
import { commandKey } from './moments.js';

/**
 * A failure line on screen belongs to a failed command that started before it
 * and had not finished more than this long before (output stays on screen a
 * while after the prompt returns).
 */
export const FAILURE_AFTER_COMMAND_MS = 5 * 60_000;

const clip = (t: unknown, n: number) =>
  String(t ?? '')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, n);

export interface FailedCommand {
  command: string;
  count: number;
  offset_ms: number;
  at: string;
  last_offset_ms: number;
  last_at: string;
  exit_codes: number[];
}

/** Failed `terminal.command` events, one entry per command (`commandKey`), in order of first failure. */
export function failedCommands(events: readonly RecordedEvent[], startedAt: number): FailedCommand[] {
  const by = new Map<string, FailedCommand>();
  for (const e of events) {
    if (e.type !== 'terminal.command' || Number(e.data.exit_code ?? 0) === 0) continue;
    const key = commandKey(String(e.data.command ?? ''));
    const code = typeof e.data.exit_code === 'number' ? e.data.exit_code : undefined;
    const cur = by.get(key);
    if (!cur) {
      by.set(key, {
        command: clip(e.data.command, 160),
        count: 1,
        offset_ms: e.offset_ms,
        at: atOffset(startedAt, e.offset_ms),
        last_offset_ms: e.offset_ms,
        last_at: atOffset(startedAt, e.offset_ms),
        exit_codes: code === undefined ? [] : [code],
      });
      continue;
    }
    cur.count++;
    if (e.offset_ms >= cur.last_offset_ms) {
      cur.last_offset_ms = e.offset_ms;
      cur.last_at = atOffset(startedAt, e.offset_ms);
    }
    if (code !== undefined && !cur.exit_codes.includes(code)) cur.exit_codes = [...cur.exit_codes, code].sort((a, b) => a - b);
  }
  return [...by.values()].sort((a, b) => a.offset_ms - b.offset_ms);
}

export interface Failure {
  text: string;
  tool: string;
  kind: FailureKind;
  /** Where it was read: on screen (OCR), or in a terminal's output. */
  source: 'screen' | 'terminal';
  /** Separate sightings: it appeared, or a command ran again and it was there again. */
  count: number;
  offset_ms: number;
  at: string;
  last_offset_ms: number;
  /** The failed command it was seen while or shortly after, when there was one. */
  command: string | null;
}

/** A text that may hold failure lines: a screen read, or a stretch of terminal output. */
export interface FailureSource {
  offset_ms: number;
  text: string;
  source: Failure['source'];
}

/**
 * Each distinct failure line of the texts once (`failureKey`), in order of
 * first sighting. Texts are taken in order; consecutive texts of one source
 * showing the same line under the same command are one sighting.
 */
export function failures(texts: readonly FailureSource[], commands: readonly RecordedEvent[], startedAt: number): Failure[] {
  const failed = commands
    .filter((c) => c.type === 'terminal.command' && Number(c.data.exit_code ?? 0) !== 0)
    .sort((a, b) => a.offset_ms - b.offset_ms || a.seq - b.seq);
  const commandAt = (t: number): RecordedEvent | undefined => {
    for (let i = failed.length - 1; i >= 0; i--) {
      const c = failed[i] as RecordedEvent;
      if (c.offset_ms > t) continue;
      const end = c.offset_ms + Math.max(0, Number(c.data.duration_ms ?? 0) || 0);
      return t - end <= FAILURE_AFTER_COMMAND_MS ? c : undefined;
    }
    return undefined;
  };
  const seen = new Map<string, Failure & { lastText: number; lastCommand: number | null }>();
  const lastIndexOf = new Map<Failure['source'], number>();
  const sorted = [...texts].sort((a, b) => a.offset_ms - b.offset_ms);
  sorted.forEach((t, i) => {
    const prevOfSource = lastIndexOf.get(t.source);
    lastIndexOf.set(t.source, i);
    const cmd = commandAt(t.offset_ms);
    const inThis = new Set<string>();
    for (const f of failureLines(t.text)) {
      const key = failureKey(f.line);
      if (!key || inThis.has(key)) continue;
      inThis.add(key);
      const cur = seen.get(key);
      if (!cur) {
        seen.set(key, {
          text: f.line.slice(0, 200),
          tool: f.tool,
          kind: f.kind,
          source: t.source,
          count: 1,
          offset_ms: t.offset_ms,
          at: atOffset(startedAt, t.offset_ms),
          last_offset_ms: t.offset_ms,
          command: cmd ? clip(cmd.data.command, 160) : null,
          lastText: i,
          lastCommand: cmd?.seq ?? null,
        });
        continue;
      }
      if (cur.lastText !== prevOfSource || cur.lastCommand !== (cmd?.seq ?? null)) cur.count++;
      cur.lastText = i;
      cur.lastCommand = cmd?.seq ?? null;
      cur.last_offset_ms = t.offset_ms;
      if (cur.command === null && cmd) cur.command = clip(cmd.data.command, 160);
    }
  });
  return [...seen.values()].map(({ lastText: _t, lastCommand: _c, ...f }) => f);
}
