/** Pure helpers for turning user input into store queries. */
import { ErrorCodes, TracedError } from '../errors.js';

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Epoch ms from a number, an ISO date-time or a relative "30m" / "2h" / "1d" (that long before `now`). */
export function parseTimeArg(value: number | string, now: number): number {
  if (typeof value === 'number') return value;
  const rel = /^(\d+(?:\.\d+)?)\s*([smhdw])$/i.exec(value.trim());
  if (rel) return Math.round(now - Number(rel[1]) * (UNITS[(rel[2] as string).toLowerCase()] as number));
  if (/^\d{10,}$/.test(value)) return Number(value);
  const t = Date.parse(value);
  if (Number.isNaN(t)) {
    throw new TracedError(ErrorCodes.INVALID_PARAMS, `"${value}" is not a time: use epoch ms, an ISO date-time or e.g. "30m"`);
  }
  return t;
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
