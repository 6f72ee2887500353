/** Pure helpers for turning user input into store queries. */
import { ErrorCodes, TracedError } from '../errors.js';
import { MAX_OFFSET_MS, MAX_TS } from '../model.js';
import { formsFor } from '../model/time-forms.js';
import { wallClock } from './clock.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Times traced accepts: from the epoch to the year 2200, so every offset and sum stays a safe integer. */
export const MIN_TS = 0;
export { MAX_OFFSET_MS, MAX_TS };

/** A bare whole number below this is an offset in ms; at or above it, epoch ms (2001-09-09 onwards). */
export const EPOCH_MS_FROM = 1e12;

export { formsFor, RANGE_FORMS, TIME_FORMS } from '../model/time-forms.js';

/**
 * What a moment names: an offset on a session clock, or a wall-clock time
 * (epoch ms). Which one depends on the form, not on the flag.
 */
export type Moment = { kind: 'offset'; ms: number } | { kind: 'ts'; ms: number };
/** How a moment is used: `at` (also --from/--to) is a point of a session; since/until bound a range; `last` is a duration back from now. */
export type TimeUse = 'at' | 'since' | 'until' | 'last';
export interface MomentContext {
  now: number;
  /** When the session the moment belongs to started: clock times are on its day, offsets count from it. */
  sessionStart?: number | undefined;
}

/** A value as text for a message, whatever it is (an object whose toString is not a function included). */
function shownValue(value: unknown): string {
  if (typeof value === 'string') return value.slice(0, 64);
  try {
    return (typeof value === 'object' && value !== null ? (JSON.stringify(value) ?? 'an object') : String(value)).slice(0, 64);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function invalidTime(value: unknown, why: string, use?: TimeUse): TracedError {
  const shown = shownValue(value);
  return new TracedError(ErrorCodes.INVALID_TIME, `${JSON.stringify(shown)} ${why}; use ${formsFor(use)}`, {
    data: { value: shown, ...(use ? { field: use } : {}) },
  });
}

const DURATION = /^(\d{1,9}(?:\.\d{1,3})?)(ms|s|m|h|d|w)$/i;
const PLUS_UNIT = /^\+(\d{1,9}(?:\.\d{1,3})?)(ms|s|m|h|d|w)$/i;
const PLUS_CLOCK = /^\+(?:(\d{1,4}):(\d{2}):|(\d{1,6}):)(\d{2}(?:\.\d{1,3})?)$/;
const CLOCK = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/;
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

function checkedOffset(ms: number, value: unknown, use: TimeUse): Moment {
  const v = Math.round(ms);
  if (!Number.isSafeInteger(v) || v < 0 || v > MAX_OFFSET_MS)
    throw invalidTime(value, `is not a moment of a session (0 to ${MAX_OFFSET_MS / 86_400_000} days from its start)`, use);
  return { kind: 'offset', ms: v };
}
function checkedTs(ms: number, value: unknown, use: TimeUse): Moment {
  const v = Math.round(ms);
  if (!Number.isSafeInteger(v) || v < MIN_TS || v > MAX_TS) throw invalidTime(value, 'is out of range (1970 to 2200)', use);
  return { kind: 'ts', ms: v };
}

/** The local midnight of the day holding `ts`. */
function dayOf(ts: number): Date {
  const d = new Date(ts);
  d.setHours(0, 0, 0, 0);
  return d;
}

/**
 * The one time grammar (DESIGN.md §8), for every CLI flag and operation
 * argument that names a moment:
 * - `+90s`, `+1.5m`, `+500ms`, `+1:30`, `+1:02:03`: offset from the session start;
 * - a whole number below 10^12 (a JS number or digits): offset in ms; at or above: epoch ms;
 * - `14:32`, `14:32:05`: wall clock on the session's day (a session that ran past
 *   midnight: the next day), or today when there is no session;
 * - an ISO 8601 date or date-time (local time unless it has Z or an offset);
 * - `30m`, `2h`, `1d`, `1w` (no `+`): that long before `now`, for since/until/last only.
 * `last` takes only that last form. Anything else, and any value out of range,
 * is TRACED_INVALID_TIME whose message lists the accepted forms; nothing else is thrown.
 */
export function parseMoment(value: unknown, use: TimeUse, ctx: MomentContext): Moment {
  if (typeof value === 'number') {
    if (use === 'last' || !Number.isInteger(value)) throw invalidTime(value, 'is not a time', use);
    return value < EPOCH_MS_FROM ? checkedOffset(value, value, use) : checkedTs(value, value, use);
  }
  if (typeof value !== 'string') throw invalidTime(value, 'is not a time', use);
  const text = value.trim();
  const dur = DURATION.exec(text);
  if (dur) {
    if (use === 'at') throw invalidTime(value, `is a duration, not a moment: write +${text} for that long after the session start`, use);
    return checkedTs(ctx.now - Number(dur[1]) * (UNITS[(dur[2] as string).toLowerCase()] as number), value, use);
  }
  if (use === 'last') throw invalidTime(value, 'is not a duration', use);
  const plus = PLUS_UNIT.exec(text);
  if (plus) return checkedOffset(Number(plus[1]) * (UNITS[(plus[2] as string).toLowerCase()] as number), value, use);
  const pc = PLUS_CLOCK.exec(text);
  if (pc) {
    const [h, m] = pc[1] !== undefined ? [Number(pc[1]), Number(pc[2])] : [0, Number(pc[3])];
    const s = Number(pc[4]);
    if ((pc[1] !== undefined && m > 59) || s >= 60) throw invalidTime(value, 'is not an offset (minutes and seconds 0-59)', use);
    return checkedOffset((h * 3600 + m * 60 + s) * 1000, value, use);
  }
  if (/^\d{1,16}$/.test(text)) {
    const n = Number(text);
    return n < EPOCH_MS_FROM ? checkedOffset(n, value, use) : checkedTs(n, value, use);
  }
  const clock = CLOCK.exec(text);
  if (clock) {
    const [h, m, s] = [Number(clock[1]), Number(clock[2]), Number(clock[3] ?? 0)];
    if (h > 23 || m > 59 || s > 59) throw invalidTime(value, 'is not a clock time (hours 0-23, minutes and seconds 0-59)', use);
    const base = ctx.sessionStart ?? ctx.now;
    const d = dayOf(base);
    d.setHours(h, m, s, 0);
    let ts = d.getTime();
    // A session that ran past midnight: 01:10 is the next day's.
    if (ctx.sessionStart !== undefined && ts < ctx.sessionStart - 12 * 3_600_000) {
      d.setDate(d.getDate() + 1);
      d.setHours(h, m, s, 0);
      ts = d.getTime();
    }
    return checkedTs(ts, value, use);
  }
  const iso = ISO.exec(text);
  if (iso) {
    const [, y, mo, da, h = '0', mi = '0', se = '0'] = iso;
    const ts = Date.parse(iso[4] === undefined ? `${y}-${mo}-${da}T00:00:00` : text.replace(' ', 'T'));
    // Date.parse rolls 2026-02-31 over to March: the fields must be what was written.
    const ok =
      !Number.isNaN(ts) &&
      Number(mo) >= 1 &&
      Number(mo) <= 12 &&
      Number(da) >= 1 &&
      Number(da) <= new Date(Date.UTC(Number(y), Number(mo), 0)).getUTCDate() &&
      Number(h) <= 23 &&
      Number(mi) <= 59 &&
      Number(se) <= 59;
    if (!ok) throw invalidTime(value, 'is not a calendar date-time', use);
    return checkedTs(ts, value, use);
  }
  throw invalidTime(value, 'is not a time', use);
}

/** Where a session ends: when it ended, or now while it records. */
export interface SessionBounds {
  /** Epoch ms: ended_at, or now for a live session. */
  end: number;
  live: boolean;
}

/** The bounds of a session row: its recorded end (end_offset_ms, else ended_at), or now while it has none. */
export function sessionBounds(row: { started_at: number; ended_at: number | null; end_offset_ms?: number | null }, now: number): SessionBounds {
  if (row.ended_at === null) return { end: Math.max(now, row.started_at), live: true };
  return { end: row.end_offset_ms != null ? row.started_at + row.end_offset_ms : row.ended_at, live: false };
}

/** How far past an ended session's end a moment may be (the last segment's tail, clock rounding). */
const ENDED_SLACK_MS = 60_000;
/** A live session's "now" as the daemon sees it, give or take a round trip. */
const LIVE_SLACK_MS = 2_000;

const mmss = (ms: number) => {
  const s = Math.floor(ms / 1000);
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
};

/** `1:00` for a session shorter than that is most likely `+1:00` without its `+`: said so. */
function plusHint(value: unknown, lengthMs: number): string {
  const m = typeof value === 'string' ? /^\s*(?:(\d{1,2}):)?(\d{1,2}):(\d{2})\s*$/.exec(value) : null;
  if (!m) return '';
  const ms = ((Number(m[1] ?? 0) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000;
  return ms <= lengthMs ? `; did you mean +${(value as string).trim()} (${mmss(ms)} after the start)?` : '';
}

/**
 * A moment as an offset on the clock of a session that started at
 * `sessionStart`. TRACED_INVALID_TIME for one before the start, and, when
 * `bounds` are given, for one after the session's end (after now, while it
 * records; the end of a range may run past it: callers pass no bounds for
 * it); the message says when the session started and ends, and suggests
 * `+1:00` for a clock-looking `1:00` that fits as an offset.
 */
export function momentOffset(m: Moment, sessionStart: number, value: unknown, bounds?: SessionBounds): number {
  const off = m.kind === 'offset' ? m.ms : m.ms - sessionStart;
  const lengthMs = bounds ? Math.max(0, bounds.end - sessionStart) : Number.POSITIVE_INFINITY;
  const span = () =>
    `the session started ${wallClock(sessionStart)}${bounds ? (bounds.live ? ` and is recording (${mmss(lengthMs)} so far)` : ` and ended ${wallClock(bounds.end)} (${mmss(lengthMs)} long)`) : ''}`;
  const fail = (why: string) =>
    new TracedError(ErrorCodes.INVALID_TIME, `${shownValue(value).slice(0, 40)} ${why}: ${span()}${plusHint(value, lengthMs)}`, {
      data: { value: shownValue(value), session_start: sessionStart, ...(bounds ? { session_end: bounds.end, live: bounds.live } : {}) },
    });
  if (off < 0) throw fail('is before the session started');
  if (bounds && off > lengthMs + (bounds.live ? LIVE_SLACK_MS : ENDED_SLACK_MS))
    throw fail(bounds.live ? 'is later than now in this session' : 'is after the session ended');
  return m.kind === 'offset' ? off : checkOffset(off);
}

/**
 * A since/until pair (or `last`, a duration back from now) as epoch ms, each
 * read by parseTimeArg. The one check every range-taking operation makes:
 * since after until, or last together with since, is TRACED_INVALID_TIME.
 */
export function parseRange(
  q: { since?: number | string | undefined; until?: number | string | undefined; last?: string | undefined },
  now: number,
): { since: number | undefined; until: number | undefined } {
  if (q.last !== undefined && q.since !== undefined)
    throw new TracedError(ErrorCodes.INVALID_TIME, `give last or since, not both: last ${String(q.last).slice(0, 20)} already sets the start`, {
      data: { field: 'last' },
    });
  const since = q.last !== undefined ? parseTimeArg(q.last, now, 'last') : q.since === undefined ? undefined : parseTimeArg(q.since, now, 'since');
  const until = q.until === undefined ? undefined : parseTimeArg(q.until, now, 'until');
  if (since !== undefined && until !== undefined && since > until)
    throw new TracedError(
      ErrorCodes.INVALID_TIME,
      `the range starts (${q.last !== undefined ? 'last' : 'since'} ${String(q.last ?? q.since).slice(0, 30)} = ${wallClock(since)}) after it ends (until ${String(q.until).slice(0, 30)} = ${wallClock(until)}): nothing can be in it; swap them`,
      { data: { field: 'since', since, until } },
    );
  return { since, until };
}

/**
 * Epoch ms for a since/until/last bound with no session: every form of the
 * grammar except offsets (they need a session); TRACED_INVALID_TIME otherwise.
 */
export function parseTimeArg(value: number | string, now: number, use: 'since' | 'until' | 'last' = 'since'): number {
  const m = parseMoment(value, use, { now });
  if (m.kind === 'offset')
    throw invalidTime(value, 'is an offset from a session start, and this range spans sessions: give a clock time, a date-time or 30m/2h/1d ago', use);
  return m.ms;
}

/** An offset on a session clock, held to [0, MAX_OFFSET_MS]. */
export function checkOffset(offsetMs: number, what = 'offset'): number {
  if (!Number.isSafeInteger(offsetMs) || offsetMs < 0 || offsetMs > MAX_OFFSET_MS) {
    throw new TracedError(ErrorCodes.INVALID_TIME, `${what} ${String(offsetMs).slice(0, 32)} ms is not a moment of a session (0 to ${MAX_OFFSET_MS} ms)`, {
      data: { field: what },
    });
  }
  return offsetMs;
}

/**
 * Builds an FTS5 MATCH expression from what a person typed. Every term is
 * quoted, so punctuation in identifiers and paths (`store.ts(42,17)`) becomes a
 * phrase instead of FTS syntax; `"a phrase"` stays a phrase; a trailing `*`
 * is a prefix match; `OR` between terms is kept. Terms are ANDed otherwise.
 */
export function toFtsQuery(input: string): string {
  const parts: string[] = [];
  for (const { term, prefix, or } of queryParts(input)) {
    // Between terms OR is the operator; first or doubled, it is the word.
    if (or && parts.length > 0 && parts[parts.length - 1] !== 'OR') {
      parts.push('OR');
      continue;
    }
    if (!/[\p{L}\p{N}]/u.test(term)) continue;
    parts.push(`"${term.replace(/"/g, '""')}"${prefix ? '*' : ''}`);
  }
  while (parts[parts.length - 1] === 'OR') parts.pop();
  if (parts.length === 0) throw new TracedError(ErrorCodes.SEARCH_QUERY, `"${input}" has no words to search for`);
  return parts.join(' ');
}

/**
 * The substring (trigram) form of a query: each term quoted, ANDed. Undefined
 * when any term is shorter than 3 characters (a trigram index cannot match it)
 * or the query uses OR.
 */
export function toTrigramQuery(input: string): string | undefined {
  const terms = trigramTerms(input);
  return terms && trigramQueryOf(terms);
}

/** The trigram MATCH expression of trigramTerms' terms: each quoted, ANDed. */
export function trigramQueryOf(terms: readonly string[]): string {
  return terms.map((t) => `"${t.replace(/"/g, '""')}"`).join(' ');
}

/**
 * The substrings toTrigramQuery ANDs, as typed (undefined where it gives no
 * query). A query whose every term is quoted gives none: quotes ask for those
 * whole words in that order, which the word index answers ("cache is stale",
 * not "mycache is stalest"); an unquoted term also matches inside longer words.
 */
export function trigramTerms(input: string): string[] | undefined {
  const p = substringTerms(input);
  return p?.unquoted ? p.terms : undefined;
}

/**
 * Every term of the query as a substring, quoted or not (undefined for OR or a
 * term under 3 characters). `unquoted`: a term is matched inside longer words —
 * it is unquoted, a prefix (`"inval"*`), or in a script written without spaces
 * between words (Chinese, Japanese, Thai…) or Korean, where the word index holds
 * a whole run of text as one word and "whole words" would find nothing inside it.
 */
export function substringTerms(input: string): { terms: string[]; unquoted: boolean } | undefined {
  const terms: string[] = [];
  let unquoted = false;
  for (const { term, quoted, prefix, or } of queryParts(input)) {
    if (or) return undefined;
    if (!term) continue;
    if ([...term].length < 3) return undefined;
    if (!quoted || prefix || NO_SPACES.test(term)) unquoted = true;
    terms.push(term);
  }
  return terms.length ? { terms, unquoted } : undefined;
}

/**
 * The terms of a query as typed, for every reader of it (the word and substring
 * queries, scoring): `"a phrase"` or a run of non-space; a trailing `*` —
 * `inval*`, `"inval"*`, `"inval*"` — makes a prefix and is not part of the term;
 * a bare `OR` is the operator.
 */
export function queryParts(input: string): { term: string; quoted: boolean; prefix: boolean; or: boolean }[] {
  const out: { term: string; quoted: boolean; prefix: boolean; or: boolean }[] = [];
  const re = /"([^"]*)"(\*?)|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(input)) !== null) {
    if (m[3] === 'OR') {
      out.push({ term: 'OR', quoted: false, prefix: false, or: true });
      continue;
    }
    const raw = (m[1] ?? m[3] ?? '').trim();
    out.push({ term: raw.replace(/\*+$/, '').trim(), quoted: m[1] !== undefined, prefix: raw.endsWith('*') || m[2] === '*', or: false });
  }
  return out;
}
/** Scripts written without spaces between words, and Korean, whose particles join the word before them (서울에서). */
const NO_SPACES = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;
