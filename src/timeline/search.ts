/**
 * Search: the word index or the trigram index (substrings, prefixes), hits
 * grouped into moments of one text (search-groups.ts: first and last
 * appearance, occurrences, spans; exact continuation), and — when a cloud index is configured — its hits
 * (spoken words, scenes of exported session videos) merged in through an
 * injected interface, so this module knows nothing of VideoDB.
 */
import { ErrorCodes, TracedError } from '../errors.js';
import type { SearchInput, SearchOutput } from '../model.js';
import { fitPage } from './budget.js';
import { atOffset } from './clock.js';
import type { Offload } from './read-pool.js';
import { parseRange, parseTimeArg, toFtsQuery, trigramQueryOf, trigramTerms } from './query.js';
import {
  type Cursor,
  compareKeys,
  decodeCursor,
  encodeCursor,
  groupRows,
  MAX_MATCH_ROWS,
  MAX_SPANS,
  type MatchRow,
  matchRows,
  newestId,
  searchPrint,
  sortKey,
  termWeights,
} from './search-groups.js';
import { queryTerms, snippet, type Term } from './search-score.js';
import type { Store } from './store.js';
import { TerminalOutput } from './terminal-output.js';

/** A cloud index of exported session videos. */
export interface CloudSearch {
  search(query: string, limit: number): Promise<{ video_id: string; start_s: number; end_s: number; text: string; score: number; index?: string }[]>;
  /** Session id of each exported video id. */
  sessionsByVideo(): Map<string, string>;
}

export interface SearchDeps {
  store: Store;
  now: () => number;
  cloud?: CloudSearch | undefined;
  /** Where heavy reads run (a worker pool); inline when absent. */
  reads?: Offload | undefined;
}

type Hit = SearchOutput['hits'][number];
/** A local hit with its place in the order, for the continuation. */
type KeyedHit = Hit & { key: number[] };

export class Search {
  private terminal: TerminalOutput | undefined;
  constructor(private readonly d: SearchDeps) {}

  /**
   * Hits from this machine's indexes, one per moment of a text, in the order
   * asked, from the cursor on (what a read worker runs). `sessionId`: an
   * already resolved session to search in.
   */
  local(q: Omit<SearchInput, 'session'>, sessionId?: string): { hits: KeyedHit[]; more: boolean; cursor: Omit<Cursor, 'key'>; warnings: string[] } {
    const order = q.order ?? 'first';
    const print = searchPrint({ query: q.query, sessionId, since: q.since, until: q.until, channels: q.channels, types: q.types });
    const from = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
    if (from && from.order !== order)
      throw new TracedError(ErrorCodes.INVALID_PARAMS, 'this cursor belongs to a search with another order', { data: { field: 'cursor' } });
    if (from && from.print !== print)
      throw new TracedError(
        ErrorCodes.INVALID_PARAMS,
        'this cursor belongs to a search with another query, session, since/until, channels or types: send them as on the first page, or start again without cursor',
        { data: { field: 'cursor' } },
      );
    // The first page resolves a relative window ("30m") once; later pages use the same bounds.
    const { since, until } = from ?? this.window(q);
    const db = this.d.store.db;
    const maxId = from?.maxId ?? newestId(db);
    // Full-width and other compatibility forms are searched as their plain letters (the indexed text is NFKC too).
    const text = q.query.normalize('NFKC');
    const terms = queryTerms(text);
    // Both indexes, prefixes too: the word index folds diacritics (résumé for resume*) and reads a quoted
    // phrase across punctuation, which substrings do not; newest-first with the cap, a word prefix costs
    // 4–14 ms over a million rows (178 ms was ranking every match by bm25).
    const substrings = trigramTerms(text);
    const trigram = substrings && trigramQueryOf(substrings);
    const match = toFtsQuery(text);
    const weights = termWeights(db, terms, maxId);
    const { rows, capped } = matchRows(db, {
      match,
      trigram,
      substrings,
      terms,
      weights,
      sessionId,
      since,
      until,
      channels: q.channels,
      types: q.types,
      maxId,
    });
    const ordered = groupRows(rows)
      .map((g) => ({ g, key: sortKey(g, order) }))
      .filter((x) => !from || compareKeys(x.key, from.key) > 0)
      .sort((a, b) => compareKeys(a.key, b.key));
    const page = ordered.slice(0, q.limit);
    const reps = page.map(({ g }) => (order === 'recent' ? g.last : g.first));
    const snippets = snippetsOf(db, reps, terms);
    const started = new Map<string, number>();
    const startOf = (sid: string) => {
      let t = started.get(sid);
      if (t === undefined) {
        t = this.d.store.getSession(sid)?.started_at ?? 0;
        started.set(sid, t);
      }
      return t;
    };
    const hits = page.map(({ g, key }, i): KeyedHit => {
      const rep = reps[i] as MatchRow;
      const t0 = startOf(rep.session_id);
      const end = Math.max(...g.spans.map((s) => s.end));
      return {
        session_id: rep.session_id,
        seq: rep.seq,
        ts: rep.ts,
        offset_ms: rep.offset_ms,
        at: atOffset(t0, rep.offset_ms),
        end_offset_ms: order === 'recent' ? Math.max(rep.end_ms, rep.offset_ms) : end,
        channel: rep.channel,
        type: rep.type,
        snippet: snippets.get(rep.id) ?? '',
        score: g.best.score,
        source: 'local',
        matched: g.index,
        ...(g.rows.length > 1 ? { merged: g.rows.length } : {}),
        replay: { session: rep.session_id, at_ms: rep.offset_ms },
        first_offset_ms: g.first.offset_ms,
        first_at: atOffset(t0, g.first.offset_ms),
        last_offset_ms: g.last.offset_ms,
        last_at: atOffset(t0, g.last.offset_ms),
        occurrences: g.rows.length,
        spans: (order === 'recent' ? [...g.spans].reverse() : g.spans)
          .slice(0, MAX_SPANS)
          .map((s) => ({ start_offset_ms: s.start, end_offset_ms: s.end, count: s.count })),
        ...(g.spans.length > MAX_SPANS ? { spans_more: g.spans.length - MAX_SPANS } : {}),
        key,
      };
    });
    const warnings = capped
      ? [`more than ${MAX_MATCH_ROWS} events match; only the newest were grouped: narrow with session, since/until, types or channels`]
      : [];
    // Terminal output is linked to the command that printed it (at the moment the hit points at).
    this.terminal ??= new TerminalOutput(this.d.store);
    return { hits: this.terminal.linkHits(hits) as KeyedHit[], more: ordered.length > page.length, cursor: { maxId, order, since, until, print }, warnings };
  }

  /** since/until as epoch ms, resolved against now (a first page). */
  private window(q: Omit<SearchInput, 'session'>): { since: number | undefined; until: number | undefined } {
    parseRange(q, this.d.now()); // since after until: TRACED_INVALID_TIME before any work
    const now = this.d.now();
    return {
      since: q.since === undefined ? undefined : parseTimeArg(q.since, now),
      until: q.until === undefined ? undefined : parseTimeArg(q.until, now, 'until'),
    };
  }

  async run(q: Omit<SearchInput, 'session'>, sessionId?: string): Promise<SearchOutput> {
    const local = this.d.reads ? ((await this.d.reads('search', 'local', [q, sessionId])) as ReturnType<Search['local']>) : this.local(q, sessionId);
    const warnings = [...local.warnings];
    const { since, until } = local.cursor;
    const cloudHits: Hit[] = [];
    const cloud = this.d.cloud;
    // The cloud index only holds spoken words and scenes: a search filtered to other channels or types does not ask it.
    // It has no continuation: its hits come with the first page only.
    const cloudApplies = cloud && q.cursor === undefined && !q.channels?.length && (!q.types?.length || q.types.some((t) => 'transcript.spoken'.startsWith(t)));
    if (cloud && cloudApplies) {
      try {
        const bySession = cloud.sessionsByVideo();
        for (const h of await cloud.search(q.query, q.limit)) {
          const sid = bySession.get(h.video_id);
          if (!sid || (sessionId && sid !== sessionId)) continue;
          const row = this.d.store.getSession(sid);
          if (!row) continue;
          const ts = row.started_at + Math.round(h.start_s * 1000);
          if ((since !== undefined && ts < since) || (until !== undefined && ts > until)) continue;
          cloudHits.push({
            session_id: sid,
            seq: 0,
            ts,
            offset_ms: Math.round(h.start_s * 1000),
            at: atOffset(row.started_at, Math.round(h.start_s * 1000)),
            end_offset_ms: Math.round(h.end_s * 1000),
            channel: 'videodb',
            type: h.index === 'scene' ? 'scene' : 'transcript.spoken',
            snippet: h.text,
            score: h.score,
            source: 'videodb',
            replay: { session: sid, at_ms: Math.round(h.start_s * 1000) },
          });
        }
      } catch (err) {
        warnings.push(`VideoDB search failed (${(err as Error).message}); these are local results only`);
      }
    }
    // Local hits first: the continuation resumes after the last local hit that fits.
    const { page, more } = fitPage<Hit>([...local.hits, ...cloudHits], q.limit, q.max_bytes);
    const shown = page.filter((h): h is KeyedHit => 'key' in h);
    const lastLocal = shown[shown.length - 1];
    const localLeft = local.more || shown.length < local.hits.length;
    return {
      query: q.query,
      hits: page.map((h) => {
        if (!('key' in h)) return h;
        const { key: _key, ...hit } = h as KeyedHit;
        return hit;
      }),
      ...(warnings.length ? { warnings } : {}),
      ...(more || local.more ? { truncated: true } : {}),
      // fitPage always keeps the first item, and local hits come first: a page with local hits left shows one.
      next_cursor: localLeft && lastLocal ? encodeCursor({ ...local.cursor, key: lastLocal.key }) : null,
    };
  }
}

/** Snippets (matched words between ** **) of the rows shown, built from each row's text for the index it matched in. */
function snippetsOf(db: Store['db'], reps: readonly MatchRow[], terms: readonly Term[]): Map<number, string> {
  const out = new Map<number, string>();
  if (!reps.length) return out;
  const index = new Map(reps.map((r) => [r.id, r.index]));
  const rows = db.prepare(`SELECT id, text FROM events WHERE id IN (${reps.map(() => '?').join(',')})`).all(...reps.map((r) => r.id)) as {
    id: number;
    text: string | null;
  }[];
  for (const r of rows) out.set(r.id, snippet(r.text ?? '', terms, index.get(r.id) ?? 'word'));
  return out;
}
