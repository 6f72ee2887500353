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
 * the time window (a relative `30m` resolved once), and every continuation
 * carries both, so rows written later never shift a page; groups are ordered
 * by a total key (relevance computed from each row's own text — see
 * search-score.ts — or last appearance for `recent`) and a continuation
 * resumes after the last key returned.
 */
import crypto from 'node:crypto';
import type Database from 'better-sqlite3';
import { ErrorCodes, TracedError } from '../errors.js';
import { rowScore, type Term } from './search-score.js';

/** Hits closer than this on the same session and kind of text are one moment. */
export const MERGE_GAP_MS = 10_000;
/** Matching rows considered per index: beyond this the answer says so and asks for narrower filters. */
export const MAX_MATCH_ROWS = 2_000;
/**
 * A session or time window of at most this many event ids is read directly for
 * substrings instead of through the trigram index: FTS5 seeks into the middle
 * of a long trigram posting list slowly (~40 ms for "SessionEngine" in one
 * session of a 1M-row store), while reading the window's rows costs ~0.4 ms
 * per thousand. Same rows either way (see substringIds).
 */
export const SCAN_WINDOW_IDS = 20_000;
/**
 * Walking the trigram index newest-first, FTS5 first skips every id newer than
 * the walk's upper bound, at ~0.09 µs each (0.1 ms past the newest 5,000 ids,
 * 43 ms past 500,000, over a 1M-row store); a row read directly costs ~2.2 µs.
 * So a window is read directly only when its ids, times this, are fewer than
 * the ids above it: a window at the top of the store (the session being
 * recorded, the newest matches of a common word) is walked.
 */
export const DIRECT_READ_COST = 25;
/**
 * Types and channels filters are checked on the candidates an index walk
 * yields, and drop most of them: through this covering index (id, type,
 * channel, session_id, ts) a dropped candidate costs a small index entry, not
 * a read of its event row with its text and data (20–45% less per walk over a
 * 1M-row store; migration 5). A session or time window passes most candidates
 * (its id range does the narrowing), and there the extra lookup costs more.
 */
const FILTER_INDEX = 'INDEXED BY events_filter';
/** A store that has not run migration 5 (or lost the index) is searched the plain way rather than failing. */
function hasFilterIndex(db: Database.Database): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'events_filter'").get() !== undefined;
}
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
  // Runs for every matching row: ASCII text (most of it) takes the cheaper non-Unicode path to the same result.
  const ascii = /^[\u0000-\u007f]*$/.test(text);
  const folded = (ascii ? text : text.normalize('NFKC'))
    .toLowerCase()
    .replace(/[o0]/g, 'o')
    .replace(/[il1|!]/g, 'i');
  return ascii ? folded.replace(/[^a-z0-9]+/g, '') : folded.replace(/[^\p{L}\p{N}]+/gu, '');
}

/**
 * What makes two rows "the same text" for a query: the first line that holds a
 * term of it. A screen read holds many lines, and the one with the error code is
 * what was seen again — the lines around it (the next prompt, other output)
 * differ from read to read. Text of one line is itself.
 */
export function matchingLine(text: string, terms: readonly { raw: string }[]): string {
  if (!text.includes('\n')) return text;
  const lower = terms.map((t) => t.raw.toLowerCase()).filter(Boolean);
  if (!lower.length) return text;
  for (const line of text.split('\n')) {
    const l = line.toLowerCase();
    if (lower.some((t) => l.includes(t))) return line;
  }
  return text;
}

function textKey(text: unknown): string {
  if (typeof text !== 'string') return '';
  return crypto.hash('sha1', normText(text), 'base64url').slice(0, 16);
}

const registered = new WeakSet<Database.Database>();
/** The scoring of the statement being run (set just before it, read by traced_row; statements run synchronously). */
let scoring: { terms: readonly Term[]; weights: readonly number[] } = { terms: [], weights: [] };

export interface MatchQuery {
  match?: string | undefined;
  trigram?: string | undefined;
  /** The trigram query's terms as typed (trigramTerms): what a small window is scanned for directly. */
  substrings?: readonly string[] | undefined;
  /** The query's terms and their weights: scores come from each row's text and these alone. */
  terms: readonly Term[];
  weights: readonly number[];
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
    // One call per row: the text crosses into JS once for its grouping key and its score.
    db.function('traced_row', (t: unknown, index: unknown) => {
      const text = typeof t === 'string' ? t : '';
      return `${rowScore(text, scoring.terms, scoring.weights, index === 'word' ? 'word' : 'substring')} ${textKey(matchingLine(text, scoring.terms))}`;
    });
    registered.add(db);
  }
  scoring = { terms: q.terms, weights: q.weights };
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
    // A type or a prefix of dotted types ("git" → git.commit…): a range on the column, not LIKE, whose
    // pattern would read % and _ in the filter as wildcards and which costs ~10 ms more per 10k candidates.
    // Types are stored lowercase (EventType).
    filter.push(`(${q.types.map(() => '(e.type = ? OR (e.type >= ? AND e.type < ?))').join(' OR ')})`);
    for (const t of q.types) {
      const l = t.replace(/[A-Z]+/g, (c) => c.toLowerCase()); // ASCII only, as stored types are
      args.push(l, `${l}.`, `${l}/`); // '/' is the character after '.'
    }
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
  // Types and channels drop most candidates; a session or time window mostly bounds the walk (lo, hi) instead.
  const dropping = !!(q.types?.length || q.channels?.length) && hasFilterIndex(db);
  let capped = false;
  /** Matching rows with their scores and keys; `only`: just these ids (already known to match, newest first). */
  const run = (table: 'events_fts' | 'events_trigram', match: string, only?: number[]): MatchRow[] => {
    const columns = `e.id, e.session_id, e.seq, e.ts, e.offset_ms, e.channel, e.type,
             traced_row(e.text, '${table === 'events_fts' ? 'word' : 'substring'}') AS info,
             COALESCE(json_extract(e.data, '$.end_offset_ms'),
               CASE WHEN e.type LIKE 'screen.%' THEN e.offset_ms + json_extract(e.data, '$.duration_ms') END, e.offset_ms) AS end_ms`;
    try {
      const rows = (
        only
          ? db.prepare(`SELECT ${columns} FROM events e WHERE e.id IN (SELECT value FROM json_each(?)) ORDER BY e.id DESC`).all(JSON.stringify(only))
          : db
              .prepare(
                `SELECT ${columns}
           FROM ${table} ${dropping ? `CROSS JOIN events e ${FILTER_INDEX}` : 'JOIN events e'} ON e.id = ${table}.rowid
           WHERE ${table} MATCH ? AND ${table}.rowid BETWEEN ? AND ? ${filter.map((f) => `AND ${f}`).join(' ')}
           ORDER BY ${table}.rowid DESC LIMIT ${MAX_MATCH_ROWS + 1}`,
              )
              .all(match, lo, hi, ...args)
      ) as (Omit<MatchRow, 'index' | 'score' | 'key'> & { info: string })[];
      if (rows.length > MAX_MATCH_ROWS) {
        capped = true;
        rows.length = MAX_MATCH_ROWS;
      }
      return rows.map(({ info, ...r }) => {
        const sp = info.indexOf(' ');
        return {
          ...r,
          score: Number(info.slice(0, sp)),
          key: info.slice(sp + 1),
          end_ms: typeof r.end_ms === 'number' ? r.end_ms : r.offset_ms,
          index: table === 'events_fts' ? 'word' : 'substring',
        };
      });
    } catch (err) {
      throw new TracedError(ErrorCodes.SEARCH_QUERY, `search failed: ${(err as Error).message}`, { cause: err });
    }
  };
  const words = q.match === undefined ? [] : run('events_fts', q.match);
  if (!q.trigram) return { rows: words, capped };
  // Past the cap, what is grouped is one range: every match, of either index, from `floor` up. A
  // capped word run sets it at its oldest row (the substring walk looks no further down); a capped
  // substring walk raises it to its own oldest id, and word rows below that are left out too.
  let floor = capped && words.length ? Math.max(lo, (words[words.length - 1] as MatchRow).id) : lo;
  const above = Math.max(0, newestId(db) - hi);
  const ids = substringIds(db, { trigram: q.trigram, substrings: q.substrings, lo: floor, hi, filter, args, dropping, above });
  if (ids.length > MAX_MATCH_ROWS) {
    capped = true;
    ids.length = MAX_MATCH_ROWS;
    floor = Math.max(floor, ids[MAX_MATCH_ROWS - 1] as number);
  }
  const rows = words.filter((r) => r.id >= floor);
  // Most substring matches are word matches already: only the rest are read and scored.
  const seen = new Set(rows.map((r) => r.id));
  const fresh = ids.filter((id) => !seen.has(id));
  if (fresh.length) rows.push(...run('events_trigram', q.trigram, fresh));
  return { rows, capped };
}

/**
 * Non-ASCII characters the trigram tokenizer folds onto ASCII letters (found
 * by trying every character of planes 0 and 1 against FTS5 itself; the test
 * test/timeline/search-substring.test.ts does it again): the Kelvin sign is
 * "k" and the long s is "s" to the index, not to SQLite's lower().
 */
export const FOLDS_TO_ASCII = ['\u212a', '\u017f'] as const;
/** Characters the trigram tokenizer skips (to the index "ne\0edle" holds "needle"); found and tested the same way. */
export const TRIGRAM_SKIPS = ['\u0000'] as const;
/** A window whose rows average more than this is left to the index: the direct read's cost follows bytes (~220 MB/s). */
export const SCAN_WINDOW_BYTES = 16 * 1024 * 1024;

/**
 * The newest MAX_MATCH_ROWS + 1 ids in [lo, hi] (and the filters) whose text
 * holds every substring, newest first.
 *
 * A small window (a session, a few hours) deep enough in the store that the
 * index walk would skip much to reach it (DIRECT_READ_COST) is read directly
 * when its terms are ASCII:
 * for an ASCII term the index matches where the text, case-folded, holds the
 * term, and the only characters for which that differs from SQLite's lower()
 * are FOLDS_TO_ASCII (other non-ASCII characters fold to non-ASCII ones, which
 * an ASCII term cannot match) and TRIGRAM_SKIPS. A window with one of those, a
 * term with a NUL (the index refuses it), or rows so large that reading them
 * costs more than the index (estimated from the newest 200) is left to the index.
 *
 * Otherwise the trigram index is walked newest-first with only the upper
 * bound given to FTS5: walking long trigram posting lists backwards, FTS5 does
 * not stop at a rowid lower bound but reads on to their start (139 ms instead
 * of 9 for "memory leak latency" in the newest 29k of a 1M-row store). The walk
 * stops itself at the first row below `lo`, which the filters let through for
 * that purpose (`OR e.id < lo`): rows outside the filters are dropped in SQL,
 * not one by one in JavaScript. CROSS JOIN keeps the index walk the outer loop.
 */
export function substringIds(
  db: Database.Database,
  w: {
    trigram: string;
    substrings: readonly string[] | undefined;
    lo: number;
    hi: number;
    filter: readonly string[];
    args: readonly unknown[];
    /** The filters drop most candidates (types, channels): test them through FILTER_INDEX. */
    dropping?: boolean;
    /** Ids in the store newer than hi: what a walk of the index skips before its first row (DIRECT_READ_COST). */
    above: number;
  },
): number[] {
  try {
    const terms = w.substrings;
    const window = w.hi - w.lo + 1;
    if (terms?.length && window <= SCAN_WINDOW_IDS && window * DIRECT_READ_COST < w.above && terms.every((t) => /^[\u0001-\u007f]*$/.test(t))) {
      const avg = db
        .prepare('SELECT AVG(length(text)) FROM (SELECT text FROM events WHERE id BETWEEN ? AND ? ORDER BY id DESC LIMIT 200)')
        .pluck()
        .get(w.lo, w.hi) as number | null;
      const unsureChars = [...FOLDS_TO_ASCII, ...TRIGRAM_SKIPS];
      const unsure = unsureChars.map(() => 'instr(e.text, ?) > 0').join(' OR ');
      const found =
        (avg ?? 0) * (w.hi - w.lo + 1) > SCAN_WINDOW_BYTES
          ? undefined
          : (db
              .prepare(
                `SELECT e.id, (${unsure}) AS unsure FROM events e
           WHERE e.id BETWEEN ? AND ? AND e.text IS NOT NULL ${w.filter.map((f) => `AND ${f}`).join(' ')}
             AND ((${unsure}) OR (${terms.map(() => 'instr(lower(e.text), ?) > 0').join(' AND ')}))
           ORDER BY e.id DESC LIMIT ${MAX_MATCH_ROWS + 1}`,
              )
              .all(...unsureChars, w.lo, w.hi, ...w.args, ...unsureChars, ...terms.map((t) => t.toLowerCase())) as { id: number; unsure: number }[]);
      if (found?.every((r) => r.unsure === 0)) return found.map((r) => r.id);
    }
    if (!w.filter.length && w.lo <= 0)
      return db
        .prepare(`SELECT rowid FROM events_trigram WHERE events_trigram MATCH ? AND rowid <= ? ORDER BY rowid DESC LIMIT ${MAX_MATCH_ROWS + 1}`)
        .pluck()
        .all(w.trigram, w.hi) as number[];
    // Unfiltered, the walk needs nothing from the event rows (most of a common word's walks: the word side's cap sets lo).
    const walk = db
      .prepare(
        w.filter.length
          ? `SELECT e.id FROM events_trigram CROSS JOIN events e ${w.dropping ? FILTER_INDEX : ''} ON e.id = events_trigram.rowid
         WHERE events_trigram MATCH ? AND events_trigram.rowid <= ? AND ((${w.filter.join(' AND ')}) OR e.id < ?)
         ORDER BY events_trigram.rowid DESC`
          : 'SELECT rowid FROM events_trigram WHERE events_trigram MATCH ? AND rowid <= ? ORDER BY rowid DESC',
      )
      .pluck();
    const out: number[] = [];
    for (const id of walk.iterate(w.trigram, w.hi, ...w.args, ...(w.filter.length ? [w.lo] : [])) as IterableIterator<number>) {
      if (id < w.lo) break;
      out.push(id);
      if (out.length > MAX_MATCH_ROWS) break;
    }
    return out;
  } catch (err) {
    throw new TracedError(ErrorCodes.SEARCH_QUERY, `search failed: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Partitions rows into groups: same session and type, and either the same
 * text key or within MERGE_GAP_MS of each other (transitively; not terminal
 * output, whose lines keep their own moments). Every row is in exactly one group.
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
      // Terminal output keeps the moment each line was printed: only the same text re-printed is one result.
      if (prev >= 0 && r.type !== 'terminal.output' && r.offset_ms - reach <= MERGE_GAP_MS) union(prev, i);
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

/** What a continuation needs: the snapshot (newest event id, resolved time window), the search it belongs to, and the last key returned. */
export interface Cursor {
  maxId: number;
  order: 'first' | 'recent';
  since: number | undefined;
  until: number | undefined;
  /** searchPrint of the query and filters. */
  print: string;
  key: number[];
}

/** A short fingerprint of what a search asked (query, session, filters as given, order): a cursor only continues that search. */
export function searchPrint(q: {
  query: string;
  sessionId?: string | undefined;
  since?: unknown;
  until?: unknown;
  channels?: readonly string[] | undefined;
  types?: readonly string[] | undefined;
}): string {
  const what = JSON.stringify([q.query, q.sessionId ?? null, q.since ?? null, q.until ?? null, q.channels ?? [], q.types ?? []]);
  return crypto.createHash('sha1').update(what).digest('base64url').slice(0, 10);
}

/** `s2~<maxId>~<f|r>~<since>~<until>~<print>~<k0>~<k1>~<k2>` (an absent bound is empty). */
export function encodeCursor(c: Cursor): string {
  return ['s2', c.maxId, c.order === 'recent' ? 'r' : 'f', c.since ?? '', c.until ?? '', c.print, ...c.key.map((k) => String(k))].join('~');
}

const badCursor = () =>
  new TracedError(ErrorCodes.INVALID_PARAMS, 'not a cursor from search (pass next_cursor back unchanged, with the same query and filters)', {
    data: { field: 'cursor' },
  });

export function decodeCursor(cursor: string): Cursor {
  const p = cursor.split('~');
  if (p.length !== 9 || p[0] !== 's2' || (p[2] !== 'f' && p[2] !== 'r') || !/^[\w-]{10}$/.test(p[5] as string)) throw badCursor();
  const int = (s: string, optional: boolean): number | undefined => {
    if (optional && s === '') return undefined;
    if (!/^\d{1,16}$/.test(s)) throw badCursor();
    const n = Number(s);
    if (!Number.isSafeInteger(n)) throw badCursor();
    return n;
  };
  const key = p.slice(6).map((s) => (/^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s) ? Number(s) : Number.NaN));
  if (key.some((n) => !Number.isFinite(n))) throw badCursor();
  return {
    maxId: int(p[1] as string, false) as number,
    order: p[2] === 'r' ? 'recent' : 'first',
    since: int(p[3] as string, true),
    until: int(p[4] as string, true),
    print: p[5] as string,
    key,
  };
}

/** Rows counted per term for its weight: a term in more rows than this weighs as one in exactly this many. */
const MAX_WEIGHT_COUNT = 20_000;

/**
 * Per-term weights (bm25's idf) over the snapshot: how many rows up to
 * `maxId` hold each term, so a common word counts for less than a rare one.
 * Rows written later never change them. A single term weighs 1.
 */
export function termWeights(db: Database.Database, terms: readonly Term[], maxId: number): number[] {
  if (terms.length < 2) return terms.map(() => 1);
  const count = db.prepare(`SELECT COUNT(*) AS n FROM (SELECT 1 FROM events_fts WHERE events_fts MATCH ? AND rowid <= ? LIMIT ${MAX_WEIGHT_COUNT})`);
  return terms.map((t) => {
    if (!t.words.length) return 1;
    const expr = `"${t.words.join(' ').replace(/"/g, '""')}"${t.prefix ? '*' : ''}`;
    try {
      const n = (count.get(expr, maxId) as { n: number }).n;
      const all = Math.max(maxId, n);
      return Math.log(1 + (all - n + 0.5) / (n + 0.5));
    } catch (err) {
      throw new TracedError(ErrorCodes.SEARCH_QUERY, `search failed: ${(err as Error).message}`, { cause: err });
    }
  });
}
