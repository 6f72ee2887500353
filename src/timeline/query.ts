/** Pure helpers for turning user input into store queries. */
import { ErrorCodes, TracedError } from '../errors.js';
import { MAX_OFFSET_MS, MAX_TS } from '../model.js';

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Times traced accepts: from the epoch to the year 2200, so every offset and sum stays a safe integer. */
export const MIN_TS = 0;
export { MAX_OFFSET_MS, MAX_TS };

export const TIME_FORMS = 'epoch ms (e.g. 1764430000000), an ISO 8601 date-time (2026-11-29T14:32:00Z), or how long ago: "30m", "2h", "1d"';

function invalidTime(value: unknown, why: string): TracedError {
  return new TracedError(ErrorCodes.INVALID_TIME, `${JSON.stringify(String(value).slice(0, 64))} ${why}; use ${TIME_FORMS}`, {
    data: { value: String(value).slice(0, 64) },
  });
}

/** Epoch ms from a number, an ISO date-time or a relative "30m" / "2h" / "1d" (that long before `now`); TRACED_INVALID_TIME otherwise. */
export function parseTimeArg(value: number | string, now: number): number {
  let t: number;
  const rel = typeof value === 'string' ? /^(\d+(?:\.\d+)?)\s*([smhdw])$/i.exec(value.trim()) : null;
  if (typeof value === 'number') t = value;
  else if (rel) t = Math.round(now - Number(rel[1]) * (UNITS[(rel[2] as string).toLowerCase()] as number));
  else if (/^\d{10,}$/.test(value)) t = Number(value);
  else {
    t = Date.parse(value);
    if (Number.isNaN(t)) throw invalidTime(value, 'is not a time');
  }
  if (!Number.isSafeInteger(t) || t < MIN_TS || t > MAX_TS) throw invalidTime(value, 'is out of range');
  return t;
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
  const re = /"([^"]*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(input)) !== null) {
    if (m[2] === 'OR' && parts.length > 0 && parts[parts.length - 1] !== 'OR') {
      parts.push('OR');
      continue;
    }
    let term = (m[1] ?? m[2] ?? '').trim();
    let prefix = false;
    if (m[2] !== undefined && term.endsWith('*')) {
      prefix = true;
      term = term.replace(/\*+$/, '');
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
  const terms: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(input)) !== null) {
    if (m[2] === 'OR') return undefined;
    const term = (m[1] ?? m[2] ?? '').replace(/\*+$/, '').trim();
    if (!term) continue;
    if ([...term].length < 3) return undefined;
    terms.push(`"${term.replace(/"/g, '""')}"`);
  }
  return terms.length ? terms.join(' ') : undefined;
}
