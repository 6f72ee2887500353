/**
 * Search: the word index or the trigram index (substrings, prefixes), hits
 * merged into moments, and — when a cloud index is configured — its hits
 * (spoken words, scenes of exported session videos) merged in through an
 * injected interface, so this module knows nothing of VideoDB.
 */
import type { SearchInput, SearchOutput } from '../model.js';
import { fitPage } from './budget.js';
import type { Offload } from './read-pool.js';
import { parseTimeArg, toFtsQuery, toTrigramQuery } from './query.js';
import type { SearchRow, Store } from './store.js';
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

/** Hits closer than this on the same session and kind of text are one moment. */
const MERGE_GAP_MS = 10_000;

export class Search {
  private terminal: TerminalOutput | undefined;
  constructor(private readonly d: SearchDeps) {}

  /** `sessionId`: an already resolved session to search in. */
  /** Hits from this machine's indexes, merged into moments (what a read worker runs). */
  local(q: Omit<SearchInput, 'session'>, sessionId?: string): SearchOutput['hits'] {
    const now = this.d.now();
    const since = q.since === undefined ? undefined : parseTimeArg(q.since, now);
    const until = q.until === undefined ? undefined : parseTimeArg(q.until, now);
    // Fetch more than asked: adjacent hits are merged into one moment below.
    // A trailing * ("invalid*") searches the trigram index: a substring match, and far cheaper than
    // merging the posting lists of every word with that prefix (178 ms vs ~20 ms over a million rows).
    const trigram = toTrigramQuery(q.query);
    const prefixOnly = trigram !== undefined && /(^|\s)[^\s"]+\*(?=\s|$)/.test(q.query);
    const rows = this.d.store.search({
      match: prefixOnly ? undefined : toFtsQuery(q.query),
      trigram,
      sessionId,
      since,
      until,
      channels: q.channels,
      types: q.types,
      limit: q.limit * 2,
    });
    // Output lines are linked to the command that printed them.
    this.terminal ??= new TerminalOutput(this.d.store);
    return this.terminal.linkHits(mergeAdjacent(rows).slice(0, q.limit));
  }

  async run(q: Omit<SearchInput, 'session'>, sessionId?: string): Promise<SearchOutput> {
    const now = this.d.now();
    const since = q.since === undefined ? undefined : parseTimeArg(q.since, now);
    const until = q.until === undefined ? undefined : parseTimeArg(q.until, now);
    const hits: SearchOutput['hits'] = this.d.reads
      ? ((await this.d.reads('search', 'local', [q, sessionId])) as SearchOutput['hits'])
      : this.local(q, sessionId);
    const warnings: string[] = [];
    const cloud = this.d.cloud;
    // The cloud index only holds spoken words and scenes: a search filtered to other channels or types does not ask it.
    const cloudApplies = cloud && !q.channels?.length && (!q.types?.length || q.types.some((t) => 'transcript.spoken'.startsWith(t)));
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
          hits.push({
            session_id: sid,
            seq: 0,
            ts,
            offset_ms: Math.round(h.start_s * 1000),
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
    const { page, more } = fitPage(hits, q.limit, q.max_bytes);
    return {
      query: q.query,
      hits: page,
      ...(warnings.length ? { warnings } : {}),
      ...(more && page.length < Math.min(hits.length, q.limit) ? { truncated: true } : {}),
    };
  }
}

/** Where a hit's text ends: recognized text carries its own end; other events are instants. */
function endOf(r: SearchRow): number {
  try {
    const d = JSON.parse(r.data) as { end_offset_ms?: unknown; duration_ms?: unknown };
    if (typeof d.end_offset_ms === 'number') return d.end_offset_ms;
    if (typeof d.duration_ms === 'number' && r.type.startsWith('screen.')) return r.offset_ms + d.duration_ms;
  } catch {
    // plain event
  }
  return r.offset_ms;
}

/**
 * Folds hits of one session and one kind of text (same type) that follow each
 * other within MERGE_GAP_MS into one moment spanning them, ranked as its best
 * hit; the text seen on screen for a minute is one hit, not twelve.
 */
export function mergeAdjacent(rows: readonly SearchRow[]): SearchOutput['hits'] {
  const rank = new Map(rows.map((r, i) => [r.id, i]));
  const groups = new Map<string, SearchRow[]>();
  for (const r of rows) {
    // Terminal output is not folded: each hit keeps the moment its line was printed.
    const k = r.type === 'terminal.output' ? `#${r.id}` : `${r.session_id}\u0000${r.type}`;
    const g = groups.get(k) ?? [];
    g.push(r);
    groups.set(k, g);
  }
  const moments: { best: SearchRow; start: number; end: number; count: number; rank: number }[] = [];
  for (const g of groups.values()) {
    g.sort((a, b) => a.offset_ms - b.offset_ms);
    let cur: (typeof moments)[number] | undefined;
    for (const r of g) {
      const r0 = rank.get(r.id) ?? 0;
      if (cur && r.offset_ms - cur.end <= MERGE_GAP_MS) {
        cur.end = Math.max(cur.end, endOf(r));
        cur.count++;
        if (r0 < cur.rank) {
          cur.best = r;
          cur.rank = r0;
        }
        continue;
      }
      cur = { best: r, start: r.offset_ms, end: endOf(r), count: 1, rank: r0 };
      moments.push(cur);
    }
  }
  moments.sort((a, b) => a.rank - b.rank);
  return moments.map((m) => ({
    session_id: m.best.session_id,
    seq: m.best.seq,
    ts: m.best.ts - (m.best.offset_ms - m.start),
    offset_ms: m.start,
    end_offset_ms: m.end,
    channel: m.best.channel,
    type: m.best.type,
    snippet: m.best.snippet,
    score: m.best.score,
    source: 'local' as const,
    matched: m.best.index,
    ...(m.count > 1 ? { merged: m.count } : {}),
    replay: { session: m.best.session_id, at_ms: m.start },
  }));
}
