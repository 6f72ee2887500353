/**
 * A small session or time window is read directly for substrings instead of
 * through the trigram index (SCAN_WINDOW_IDS): it must give exactly the rows
 * the index gives. fast-check over texts and terms built to collide with the
 * index's edges: case, spaces and punctuation inside terms, quotes, terms
 * that straddle words, and non-ASCII text (é, the Kelvin sign that folds to
 * ASCII "k", a NUL) that must leave the window to the index.
 */
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { substringTerms, trigramQueryOf } from '../../src/timeline/query.js';
import type { EventInsert } from '../../src/timeline/rows.js';
import Database from 'better-sqlite3';
import { FOLDS_TO_ASCII, SCAN_WINDOW_IDS, substringIds, TRIGRAM_SKIPS } from '../../src/timeline/search-groups.js';
import { Store } from '../../src/timeline/store.js';
import { tempDir } from '../helpers/env.js';

/** Ids above the window, as if it lay deep in a large store: the direct read is taken (DIRECT_READ_COST). */
const DEEP = Number.MAX_SAFE_INTEGER;
const ASCII = ['a', 'b', 'c', 'A', 'B', 'C', ' ', '.', '-', '_', '"', '*', '(', ')', '\t'];
const WIDE = ['é', 'É', '\u212a', '\u017f', 'k', 'K', 's', '\u0000', 'ß', 'İ', '❯', '─', '✓', '\u{1f600}'];

describe('substrings in a small window: read directly, same rows as the trigram index', () => {
  it('for any texts and terms, the direct read and the index agree', () => {
    const store = new Store(path.join(tempDir('subscan-'), 'db.sqlite'));
    const t0 = Date.now();
    let sid = 0;
    let scannedWithMatches = 0;
    try {
      fc.assert(
        fc.property(
          fc.array(
            fc.oneof(
              fc.constant(''),
              fc.array(fc.constantFrom(...ASCII, ...ASCII, ...WIDE), { minLength: 3, maxLength: 24 }).map((a) => a.join('')),
            ),
            { minLength: 1, maxLength: 30 },
          ),
          // Terms cut out of the texts (so they match), case flipped, or made up.
          fc.array(
            fc.oneof(
              { weight: 4, arbitrary: fc.record({ from: fc.nat(), at: fc.nat(), len: fc.integer({ min: 3, max: 6 }), flip: fc.boolean() }) },
              { weight: 1, arbitrary: fc.array(fc.constantFrom(...ASCII, 'é', '\u212a', 'k'), { minLength: 3, maxLength: 5 }).map((a) => a.join('')) },
            ),
            { minLength: 1, maxLength: 3 },
          ),
          fc.boolean(),
          (texts, picks, asciiOnly) => {
            const id = `s${++sid}`;
            store.insertSession({ id, project: '/p', label: null, profile: 'default', state: 'recording', started_at: t0, meta: '{}' });
            const rows = asciiOnly ? texts.map((t) => t.replace(/[^\u0000-\u007f]|\u0000/g, 'x')) : texts;
            store.appendEvents(
              rows.map(
                (text, i): EventInsert => ({
                  session_id: id,
                  seq: i + 1,
                  parent_seq: null,
                  ts: t0 + i,
                  offset_ms: i,
                  channel: 'terminal',
                  type: 'terminal.output',
                  data: { text },
                  text,
                }),
              ),
            );
            const rawTerms = picks.map((p) => {
              if (typeof p === 'string') return p;
              // Half the time cut from the text as the index reads it (a NUL is skipped there: "ne\0edle" holds "needle").
              const src = p.flip && p.at % 2 ? (rows[p.from % rows.length] as string).replace(/\u0000/g, '') : (rows[p.from % rows.length] as string);
              const cut = src.slice(p.at % Math.max(1, src.length), (p.at % Math.max(1, src.length)) + p.len);
              return p.flip ? [...cut].map((c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join('') : cut;
            });
            // The query as a user types it: terms with spaces or quotes are quoted.
            const query = rawTerms.map((t) => (/[\s"]/.test(t) ? `"${t.replace(/"/g, '')}"` : t)).join(' ');
            // substringIds is handed every term as a substring (search leaves an all-quoted query to the word index).
            const substrings = substringTerms(query)?.terms;
            if (!substrings) return;
            const trigram = trigramQueryOf(substrings);
            const b = store.db.prepare('SELECT MIN(id) AS lo, MAX(id) AS hi FROM events WHERE session_id = ?').get(id) as { lo: number; hi: number };
            expect(b.hi - b.lo).toBeLessThanOrEqual(SCAN_WINDOW_IDS);
            const outcome = (f: () => number[]) => {
              try {
                return f();
              } catch (err) {
                return `error: ${(err as Error).message.replace(/^search failed: /, '')}`;
              }
            };
            const got = outcome(() =>
              substringIds(store.db, { trigram, substrings, lo: b.lo, hi: b.hi, filter: ['e.session_id = ?'], args: [id], above: DEEP }),
            );
            const want = outcome(
              () =>
                store.db
                  .prepare('SELECT rowid FROM events_trigram WHERE events_trigram MATCH ? AND rowid BETWEEN ? AND ? ORDER BY rowid DESC')
                  .pluck()
                  .all(trigram, b.lo, b.hi) as number[],
            );
            expect(got, `${JSON.stringify(query)} over ${JSON.stringify(rows)}`).toEqual(want);
            if (asciiOnly && want.length) scannedWithMatches++;
          },
        ),
        { numRuns: 600 },
      );
      // The direct read was taken, and found rows, often enough to mean something.
      expect(scannedWithMatches).toBeGreaterThan(20);
    } finally {
      store.close();
    }
  });

  it('FOLDS_TO_ASCII and TRIGRAM_SKIPS are every character the trigram tokenizer folds onto ASCII or skips (planes 0 and 1, tried against FTS5)', () => {
    const db = new Database(':memory:');
    try {
      db.exec(`CREATE VIRTUAL TABLE t USING fts5(text, tokenize='trigram')`);
      const ins = db.prepare('INSERT INTO t(rowid, text) VALUES (?, ?)');
      db.transaction(() => {
        for (let c = 0x80; c <= 0x1ffff; c++) if (c < 0xd800 || c > 0xdfff) ins.run(c, `q${String.fromCodePoint(c)}q`);
      })();
      const folds = new Set<number>();
      for (let a = 1; a < 128; a++) {
        const ch = String.fromCharCode(a);
        for (const id of db
          .prepare('SELECT rowid FROM t WHERE t MATCH ?')
          .pluck()
          .all(`"q${ch === '"' ? '""' : ch}q"`) as number[])
          folds.add(id);
      }
      expect([...folds].sort((x, y) => x - y)).toEqual(FOLDS_TO_ASCII.map((c) => c.codePointAt(0)).sort((x, y) => (x as number) - (y as number)));
      // And every character it skips: "ab" + c + "cd" holds "abcd" to the index only if c is skipped.
      db.exec('DELETE FROM t');
      db.transaction(() => {
        for (let c = 0; c <= 0x1ffff; c++) if (c < 0xd800 || c > 0xdfff) ins.run(c + 1, `ab${String.fromCodePoint(c)}cd`);
      })();
      const skipped = (db.prepare('SELECT rowid - 1 FROM t WHERE t MATCH ?').pluck().all('"abcd"') as number[]).sort((x, y) => x - y);
      expect(skipped).toEqual(TRIGRAM_SKIPS.map((c) => c.codePointAt(0)));
    } finally {
      db.close();
    }
  });

  it('finds matches at all (the property above is not vacuous)', () => {
    const store = new Store(path.join(tempDir('subscan-'), 'db.sqlite'));
    try {
      store.insertSession({ id: 's', project: '/p', label: null, profile: 'default', state: 'recording', started_at: 0, meta: '{}' });
      const texts = ['invalidateCache()', 'CACHE is stale', 'cach e', 'no', 'the "cache"', 'core dumped ne\u0000edle'];
      store.appendEvents(
        texts.map(
          (text, i): EventInsert => ({
            session_id: 's',
            seq: i + 1,
            parent_seq: null,
            ts: i,
            offset_ms: i,
            channel: 't',
            type: 'terminal.output',
            data: {},
            text,
          }),
        ),
      );
      const ids = (q: string) => {
        const substrings = substringTerms(q)?.terms ?? [];
        return substringIds(store.db, { trigram: trigramQueryOf(substrings), substrings, lo: 1, hi: 6, filter: [], args: [], above: DEEP });
      };
      expect(ids('cache')).toEqual([5, 2, 1]);
      expect(ids('"cache is"')).toEqual([2]);
      expect(ids('Cache stale')).toEqual([2]);
      expect(ids('"s st"')).toEqual([2]);
      expect(ids('cache"')).toEqual([5]);
      // The index skips a NUL: the window goes to it, and the row is found as the index finds it.
      expect(ids('needle')).toEqual([6]);
    } finally {
      store.close();
    }
  });
});
