/**
 * Search results as moments of one text. Every row that matches (word index,
 * then substring matches the word index missed) is put in exactly one group:
 * rows of one session and one kind of text (event type) belong together when
 * they hold the same text after normalisation — the same output re-read when
 * a window uncovers the terminal — or follow each other within MERGE_GAP_MS
 * (text on screen for a minute is one moment, not twelve). A group answers
 * "when did this first show up?": first and last appearance, how many times,
 * and the spans it was seen in.
 *
 * Paging is exact: the first page fixes the newest event id it may see and
 * every continuation carries it, so rows written later never shift a page;
 * groups are ordered by a total key (relevance, or last appearance for
 * `recent`) and a continuation resumes after the last key returned.
 */
import crypto from 'node:crypto';
import type Database from 'better-sqlite3';
import { ErrorCodes, TracedError } from '../errors.js';

/** Hits closer than this on the same session and kind of text are one moment. */
export const MERGE_GAP_MS = 10_000;
/** Matching rows considered per index: beyond this the answer says so and asks for narrower filters. */
export const MAX_MATCH_ROWS = 20_000;
/** Spans listed per result (the rest are counted). */
export const MAX_SPANS = 20;

export interface MatchRow {
  id: number;
  session_id: string;
  seq: number;
  ts: number;
  offset_ms: number;
  end_ms: number;
  channel: string;
  type: string;
  /** Normalised-text key (see normText). */
  key: string;
  score: number;
  index: 'word' | 'substring';
}

export interface Group {
  rows: MatchRow[];
  first: MatchRow;
  last: MatchRow;
  best: MatchRow;
  index: 'word' | 'substring';
  spans: { start: number; end: number; count: number }[];
}

/**
 * Near-identical text: Unicode compatibility forms folded, case folded, the
 * letters OCR confuses with digits folded together (o/0, i/l/1/|), and
 * everything but letters and digits dropped — so re-reads that differ in
 * spacing, punctuation read or missed, and those confusions are one text.
 */
export function normText(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[o0]/g, 'o')
    .replace(/[il1|!]/g, 'i')
    .replace(/[^\p{L}\p{N}]+/gu, '');
}

function textKey(text: unknown): string {
  if (typeof text !== 'string') return '';
  return crypto.createHash('sha1').update(normText(text)).digest('base64url').slice(0, 16);
}

const registered = new WeakSet<Database.Database>();

export interface MatchQuery {
  match?: string | undefined;
  trigram?: string | undefined;
  sessionId?: string | undefined;
  since?: number | undefined;
  until?: number | undefined;
  channels?: string[] | undefined;
  types?: string[] | undefined;
  /** Only events with id ≤ this (the first page's snapshot). */
  maxId: number;
}

/** The newest event id: a first page's snapshot. */
export function newestId(db: Database.Database): number {
  return (db.prepare('SELECT COALESCE(MAX(id), 0) AS m FROM events').get() as { m: number }).m;
}

/** Every matching row (word index first, then substring-only matches), up to MAX_MATCH_ROWS per index; `capped` when one was cut. */
export function matchRows(db: Database.Database, q: MatchQuery): { rows: MatchRow[]; capped: boolean } {
  if (!registered.has(db)) {
    db.function('traced_text_key', { deterministic: true }, (t: unknown) => textKey(t));
    registered.add(db);
  }
  const filter: string[] = [];
  const args: unknown[] = [];
  if (q.sessionId !== undefined) {
    filter.push('e.session_id = ?');
    args.push(q.sessionId);
  }
  if (q.since !== undefined) {
    filter.push('e.ts >= ?');
    args.push(q.since);
  }
  if (q.until !== undefined) {
    filter.push('e.ts <= ?');
    args.push(q.until);
  }
  if (q.types?.length) {
    filter.push(`(${q.types.map(() => 'e.type = ? OR e.type LIKE ?').join(' OR ')})`);
    for (const t of q.types) args.push(t, `${t}.%`);
  }
  if (q.channels?.length) {
    filter.push(`e.channel IN (${q.channels.map(() => '?').join(',')})`);
    args.push(...q.channels);
  }
  // Events of one session / time window sit in one id range (ids grow with time): the index walks only that.
  let lo = 0;
  let hi = q.maxId;
  if (filter.some((f) => /session_id|e\.ts/.test(f))) {
    const where = filter.filter((f) => /session_id|e\.ts/.test(f));
    const b = db.prepare(`SELECT MIN(e.id) AS lo, MAX(e.id) AS hi FROM events e WHERE ${where.join(' AND ')}`).get(...args.slice(0, where.length)) as {
      lo: number | null;
      hi: number | null;
    };
    if (b.lo === null || b.hi === null) return { rows: [], capped: false };
    lo = b.lo;
    hi = Math.min(hi, b.hi);
  }
  let capped = false;
  const run = (table: 'events_fts' | 'events_trigram', match: string): MatchRow[] => {
    try {
      const rows = db
        .prepare(
          `SELECT e.id, e.session_id, e.seq, e.ts, e.offset_ms, e.channel, e.type, bm25(${table}) AS score,
             traced_text_key(e.text) AS key,
             COALESCE(json_extract(e.data, '$.end_offset_ms'),
               CASE WHEN e.type LIKE 'screen.%' THEN e.offset_ms + json_extract(e.data, '$.duration_ms') END, e.offset_ms) AS end_ms
           FROM ${table} JOIN events e ON e.id = ${table}.rowid
           WHERE ${table} MATCH ? AND ${table}.rowid BETWEEN ? AND ? ${filter.map((f) => `AND ${f}`).join(' ')}
           ORDER BY ${table}.rowid DESC LIMIT ${MAX_MATCH_ROWS + 1}`,
        )
        .all(match, lo, hi, ...args) as Omit<MatchRow, 'index'>[];
      if (rows.length > MAX_MATCH_ROWS) {
        capped = true;
        rows.length = MAX_MATCH_ROWS;
      }
      return rows.map((r) => ({ ...r, end_ms: typeof r.end_ms === 'number' ? r.end_ms : r.offset_ms, index: table === 'events_fts' ? 'word' : 'substring' }));
    } catch (err) {
      throw new TracedError(ErrorCodes.SEARCH_QUERY, `search failed: ${(err as Error).message}`, { cause: err });
    }
  };
  const rows = q.match === undefined ? [] : run('events_fts', q.match);
  if (q.trigram) {
    const seen = new Set(rows.map((r) => r.id));
    for (const r of run('events_trigram', q.trigram)) if (!seen.has(r.id)) rows.push(r);
  }
  return { rows, capped };
}

/**
 * Partitions rows into groups: same session and type, and either the same
 * text key or within MERGE_GAP_MS of each other (transitively). Every row is
 * in exactly one group.
 */
export function groupRows(rows: readonly MatchRow[]): Group[] {
  const parent = rows.map((_, i) => i);
  const find = (i: number): number => {
    let r = i;
    while (parent[r] !== r) r = parent[r] as number;
    let j = i;
    while (parent[j] !== r) {
      const n = parent[j] as number;
      parent[j] = r;
      j = n;
    }
    return r;
  };
  const union = (a: number, b: number) => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  };
  const byKind = new Map<string, number[]>();
  for (const [i, r] of rows.entries()) {
    const k = `${r.session_id}\u0000${r.type}`;
    const l = byKind.get(k) ?? [];
    l.push(i);
    byKind.set(k, l);
  }
  for (const idx of byKind.values()) {
    idx.sort((a, b) => (rows[a] as MatchRow).offset_ms - (rows[b] as MatchRow).offset_ms || (rows[a] as MatchRow).id - (rows[b] as MatchRow).id);
    const sameText = new Map<string, number>();
    let reach = Number.NEGATIVE_INFINITY;
    let prev = -1;
    for (const i of idx) {
      const r = rows[i] as MatchRow;
      if (prev >= 0 && r.offset_ms - reach <= MERGE_GAP_MS) union(prev, i);
      reach = Math.max(reach, r.end_ms, r.offset_ms);
      prev = i;
      if (r.key) {
        const s = sameText.get(r.key);
        if (s === undefined) sameText.set(r.key, i);
        else union(s, i);
      }
    }
  }
  const members = new Map<number, MatchRow[]>();
  for (const [i, r] of rows.entries()) {
    const root = find(i);
    const l = members.get(root) ?? [];
    l.push(r);
    members.set(root, l);
  }
  return [...members.values()].map(toGroup);
}

function toGroup(rows: MatchRow[]): Group {
  rows.sort((a, b) => a.offset_ms - b.offset_ms || a.id - b.id);
  const word = rows.filter((r) => r.index === 'word');
  const ranked = word.length ? word : rows;
  const best = ranked.reduce((b, r) => (r.score < b.score || (r.score === b.score && r.id > b.id) ? r : b));
  const spans: Group['spans'] = [];
  for (const r of rows) {
    const s = spans[spans.length - 1];
    if (s && r.offset_ms - s.end <= MERGE_GAP_MS) {
      s.end = Math.max(s.end, r.end_ms);
      s.count++;
    } else spans.push({ start: r.offset_ms, end: Math.max(r.end_ms, r.offset_ms), count: 1 });
  }
  return { rows, first: rows[0] as MatchRow, last: rows[rows.length - 1] as MatchRow, best, index: word.length ? 'word' : 'substring', spans };
}

/** A group's place in the answer: a tuple compared element by element (numbers ascending). */
export function sortKey(g: Group, order: 'first' | 'recent'): [number, number, number] {
  // Ties go to the newer row: the same order the index walks.
  if (order === 'recent') return [-g.last.ts, -g.last.id, 0];
  return [g.index === 'word' ? 0 : 1, g.best.score, -g.best.id];
}

export function compareKeys(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** `s1.<maxId>.<order>.<k0>.<k1>.<k2>`: what a continuation needs, nothing else. */
export function encodeCursor(maxId: number, order: 'first' | 'recent', key: readonly number[]): string {
  return ['s1', maxId, order === 'recent' ? 'r' : 'f', ...key.map((k) => String(k))].join('~');
}

export function decodeCursor(cursor: string): { maxId: number; order: 'first' | 'recent'; key: number[] } {
  const p = cursor.split('~');
  const nums = p.slice(3).map(Number);
  const maxId = Number(p[1]);
  if (
    p[0] !== 's1' ||
    (p[2] !== 'f' && p[2] !== 'r') ||
    nums.length !== 3 ||
    !Number.isSafeInteger(maxId) ||
    maxId < 0 ||
    nums.some((n) => !Number.isFinite(n))
  )
    throw new TracedError(ErrorCodes.INVALID_PARAMS, 'not a cursor from search (pass next_cursor back unchanged, with the same query and filters)');
  return { maxId, order: p[2] === 'r' ? 'recent' : 'first', key: nums };
}
