/**
 * Types and channels filters are tested on each candidate through a covering
 * index (events_filter, migration 5) instead of the event row. The attack:
 * random stores (look-alike types, subtypes, several sessions and channels,
 * word and substring-only matches, more matches than the cap) and random
 * filters, paged through to the end — every event found must be one the
 * database says matches (checked with SELECT), every matching event must be
 * found unless the reply says it was cut, and the answer must be the same
 * with the index dropped (the plain path a store without migration 5 takes).
 */
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toFtsQuery, toTrigramQuery } from '../../src/timeline/query.js';
import type { EventInsert } from '../../src/timeline/rows.js';
import { Search } from '../../src/timeline/search.js';
import { SCAN_WINDOW_IDS } from '../../src/timeline/search-groups.js';
import { Store } from '../../src/timeline/store.js';
import { tempDir } from '../helpers/env.js';

const TYPES = ['ed.note', 'ed.note.pinned', 'ed_note', 'edited.note', 'git.commit', 'terminal.output', 'screen.text'];
const CHANNELS = ['editor', 'git', 'terminal', 'display:1', 'mic:default'];
const TEXTS = ['flux capacitor', 'reflux valve', 'fluxgate', 'quiet line', 'the flux is stale', 'FLUX'];

interface Row {
  session: number;
  type: number;
  channel: number;
  text: number;
}

/** Every page of a search (of one session when `sid` is given), to the end. */
async function pageAll(search: Search, q: Record<string, unknown>, sid?: string, limit = 7) {
  const seqs: string[] = [];
  const warnings: string[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 500; pages++) {
    const out = await search.run({ limit, max_bytes: 40_000, ...q, ...(cursor ? { cursor } : {}) } as never, sid);
    // Every event is its own result here (60 s apart, see below): a hit is one event.
    for (const h of out.hits) seqs.push(`${h.session_id}/${h.seq}`);
    warnings.push(...((out as { warnings?: string[] }).warnings ?? []));
    if (!out.next_cursor) return { seqs, warnings };
    cursor = out.next_cursor;
  }
  throw new Error('paging did not end');
}

describe('search filters through the covering index', () => {
  it('for any store and any types/channels filter: only matching events, all of them, the same as without the index', async () => {
    // Not vacuous: runs where the filter kept some matches and dropped others.
    let keptAndDropped = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ session: fc.nat(2), type: fc.nat(TYPES.length - 1), channel: fc.nat(CHANNELS.length - 1), text: fc.nat(TEXTS.length - 1) }), {
          minLength: 20,
          maxLength: 80,
        }),
        fc
          .record({
            query: fc.constantFrom('flux', 'Flux', 'capacitor', 'lux', '"the flux"'),
            types: fc.option(fc.subarray(['ed', 'ed.note', 'ED.NOTE.pinned', 'ed_', 'git', 'terminal.output', 'screen', 'edited'], { minLength: 1 }), {
              nil: undefined,
            }),
            channels: fc.option(fc.subarray(CHANNELS, { minLength: 1 }), { nil: undefined }),
            session: fc.option(fc.nat(2), { nil: undefined }),
          })
          .filter((f) => f.types !== undefined || f.channels !== undefined),
        async (rows: Row[], f) => {
          const store = new Store(path.join(tempDir('sfilt-'), 'db.sqlite'));
          try {
            const t0 = Date.now() - 10_000_000;
            for (let s = 0; s < 3; s++)
              store.insertSession({ id: `s${s}`, project: '/p', label: null, profile: 'default', state: 'ended', started_at: t0, meta: '{}' });
            const seq = [0, 0, 0];
            const evs = rows.map((r, i): EventInsert => {
              seq[r.session] = (seq[r.session] as number) + 1;
              const text = `${TEXTS[r.text]} n${i}`;
              // 60 s apart: each event is its own moment.
              return {
                session_id: `s${r.session}`,
                seq: seq[r.session] as number,
                parent_seq: null,
                ts: t0 + i * 60_000,
                offset_ms: i * 60_000,
                channel: CHANNELS[r.channel] as string,
                type: TYPES[r.type] as string,
                data: { text },
                text,
              };
            });
            // Ids from 30,000 on: a store-wide search walks the trigram index (a window of at most
            // SCAN_WINDOW_IDS ids is read directly; a session filter still is).
            pad(store, t0);
            store.appendEvents(evs);
            expect(store.db.prepare("SELECT name FROM sqlite_master WHERE name = 'events_filter'").get()).toBeTruthy();
            const q = { query: f.query, types: f.types, channels: f.channels };
            const sid = f.session === undefined ? undefined : `s${f.session}`;
            const search = new Search({ store, now: () => Date.now() });
            const run = () => pageAll(search, q, sid);
            const withIndex = await run();

            // The oracle, straight from the database.
            const typeOk = (t: string) =>
              !f.types ||
              f.types.some((x) => {
                const l = x.replace(/[A-Z]+/g, (c) => c.toLowerCase());
                return t === l || t.startsWith(`${l}.`);
              });
            const matching = new Set<string>();
            for (const [table, expr] of [
              ['events_fts', toFtsQuery(f.query)],
              ['events_trigram', toTrigramQuery(f.query)],
            ] as const) {
              if (!expr) continue;
              const got = store.db
                .prepare(`SELECT e.session_id, e.seq, e.type, e.channel FROM ${table} JOIN events e ON e.id = ${table}.rowid WHERE ${table} MATCH ?`)
                .all(expr) as { session_id: string; seq: number; type: string; channel: string }[];
              for (const r of got)
                if (typeOk(r.type) && (!f.channels || f.channels.includes(r.channel)) && (sid === undefined || r.session_id === sid))
                  matching.add(`${r.session_id}/${r.seq}`);
            }
            const unfiltered = (await pageAll(search, { query: f.query }, sid)).seqs.length;
            if (matching.size > 0 && unfiltered > matching.size) keptAndDropped++;
            expect(new Set(withIndex.seqs).size, 'no event twice').toBe(withIndex.seqs.length);
            expect([...withIndex.seqs].sort()).toEqual([...matching].sort());

            // The same answer the plain way.
            store.db.exec('DROP INDEX events_filter');
            const plain = await run();
            expect(plain.seqs).toEqual(withIndex.seqs);
          } finally {
            store.close();
          }
        },
      ),
      { numRuns: 120 },
    );
    expect(keptAndDropped).toBeGreaterThan(40);
  }, 180_000);

  it('past the cap, a filtered search walks through the index to the same grouped range as the plain way, and says it cut', async () => {
    const store = new Store(path.join(tempDir('sfilt-cap-'), 'db.sqlite'));
    try {
      const t0 = Date.now() - 100_000_000;
      store.insertSession({ id: 's', project: '/p', label: null, profile: 'default', state: 'ended', started_at: t0, meta: '{}' });
      // 2,600 commits among 9,000 rows that all match: more than the cap of matches survives the filter.
      const evs = Array.from({ length: 9000 }, (_, i): EventInsert => {
        const commit = i % 7 < 2;
        const text = `${i % 3 === 0 ? 'fluxgate' : 'flux'} change ${i}`;
        return {
          session_id: 's',
          seq: i + 1,
          parent_seq: null,
          ts: t0 + i * 11_000,
          offset_ms: i * 11_000,
          channel: commit ? 'git' : 'terminal',
          type: commit ? 'git.commit' : 'terminal.output',
          data: { text },
          text,
        };
      });
      pad(store, t0);
      store.appendEvents(evs);
      const search = new Search({ store, now: () => Date.now() });
      const indexed = await pageAll(search, { query: 'flux', types: ['git'] }, undefined, 100);
      store.db.exec('DROP INDEX events_filter');
      const plain = await pageAll(search, { query: 'flux', types: ['git'] }, undefined, 100);
      expect(indexed.seqs).toEqual(plain.seqs);
      expect(indexed.seqs.length).toBeGreaterThanOrEqual(2000);
      expect(indexed.warnings.some((w) => /only the newest were grouped/.test(w))).toBe(true);
      for (const s of indexed.seqs) expect((Number(s.split('/')[1]) - 1) % 7 < 2, s).toBe(true);
    } finally {
      store.close();
    }
  }, 120_000);
});

/** An event without text at id 30,000, so the events after it have ids past SCAN_WINDOW_IDS. */
function pad(store: Store, t0: number): void {
  expect(SCAN_WINDOW_IDS).toBeLessThan(30_000);
  store.insertSession({ id: 'pad', project: '/p', label: null, profile: 'default', state: 'ended', started_at: t0, meta: '{}' });
  store.db
    .prepare(
      "INSERT INTO events (id, session_id, seq, parent_seq, ts, offset_ms, channel, type, data, text) VALUES (30000, 'pad', 1, NULL, ?, 0, 'pad', 'pad', '{}', NULL)",
    )
    .run(t0);
}
