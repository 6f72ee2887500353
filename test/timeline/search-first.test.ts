/**
 * "When did this first show up?": the same output re-read later (a window
 * closed, the terminal uncovered) is one search result pointing at its first
 * appearance, with its last appearance, occurrences and spans; order
 * "recent" points at the latest. Grouping never loses or duplicates an
 * occurrence (fast-check over random occurrence sets), and paging with the
 * cursor returns every matching event in exactly one result, checked against
 * a SELECT on the database.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { groupRows, type MatchRow, normText } from '../../src/timeline/search-groups.js';
import { tempDir } from '../helpers/env.js';
import { testServices, type TestServices } from '../helpers/services.js';

const screen = (offset_ms: number, text: string) => ({
  channel: 'display:1',
  type: 'screen.text',
  offset_ms,
  data: { display: 'display:1', text, duration_ms: 5000 },
});

describe('search: one result per text, dated by its first appearance', () => {
  let t: TestServices;
  let sid = '';
  let startedAt = 0;

  beforeAll(async () => {
    t = testServices();
    const s = await t.recorder.start({ project: tempDir('sfirst-'), profile: 'events', channels: [] });
    sid = s.session.id;
    startedAt = s.session.started_at;
    await t.recorder.stop();
    // Printed at 40, 56 and 68 s (each read on screen for 5 s: 56 and 68 are one span); re-read at 118 s when the terminal was uncovered. OCR varies the spacing,
    // case and a 0/O between reads; other text in between is not the same output.
    t.events.appendLate(sid, [
      screen(40_000, "src/cache.ts(42,17): error TS2345: Argument of type 'string'"),
      screen(47_000, 'npm run build finished'),
      screen(56_000, "src/cache.ts(42,17):  error TS2345: argument of type 'string'"),
      screen(68_000, "src/cache.ts(42,17): error TS2345: Argument of type 'strinG'"),
      screen(90_000, 'TS2345 explained: see the handbook'),
      screen(118_000, "src/cache.ts(42,l7): error TS2345: Argument of type 'string'"),
    ]);
  });

  const search = (q: Record<string, unknown>) => t.services.search.run({ limit: 20, max_bytes: 40_000, order: 'first', ...q } as never, sid);

  it('the re-read output is one hit at its first appearance, with last appearance, occurrences and spans', async () => {
    const r = await search({ query: 'Argument of type' });
    expect(r.hits).toHaveLength(1);
    const h = r.hits[0] as Record<string, any>;
    expect(h.offset_ms).toBe(40_000);
    expect(h.first_offset_ms).toBe(40_000);
    expect(h.last_offset_ms).toBe(118_000);
    expect(h.occurrences).toBe(4);
    expect(h.replay).toEqual({ session: sid, at_ms: 40_000 });
    expect(new Date(h.at).getTime()).toBe(startedAt + 40_000);
    expect(new Date(h.first_at).getTime()).toBe(startedAt + 40_000);
    expect(new Date(h.last_at).getTime()).toBe(startedAt + 118_000);
    expect(h.spans.map((s: any) => s.start_offset_ms)).toEqual([40_000, 56_000, 118_000]);
    expect(h.spans.reduce((n: number, s: any) => n + s.count, 0)).toBe(4);
    expect(r.next_cursor).toBeNull();
  });

  it('order "recent" points at the latest appearance first', async () => {
    const r = await search({ query: 'Argument of type', order: 'recent' });
    expect(r.hits).toHaveLength(1);
    const h = r.hits[0] as Record<string, any>;
    expect(h.offset_ms).toBe(118_000);
    expect(h.replay.at_ms).toBe(118_000);
    expect(h.first_offset_ms).toBe(40_000);
    expect(h.spans[0].start_offset_ms).toBe(118_000);
    expect(h.snippet).toMatch(/l7/);
  });

  it('a different text with the same word far from the output is its own result; every hit carries at', async () => {
    const r = await search({ query: 'TS2345' });
    expect(r.hits.map((h) => h.first_offset_ms).sort((a, b) => (a as number) - (b as number))).toEqual([40_000, 90_000]);
    for (const h of r.hits) expect(new Date(h.at as string).getTime()).toBe(startedAt + h.offset_ms);
  });

  it('a cursor from another order, or a made-up one, is refused with a code', async () => {
    const first = await search({ query: 'TS2345', limit: 1 });
    expect(first.next_cursor).toBeTruthy();
    await expect(search({ query: 'TS2345', order: 'recent', cursor: first.next_cursor })).rejects.toMatchObject({ code: 'TRACED_INVALID_PARAMS' });
    await expect(search({ query: 'TS2345', cursor: 's1~x~f~1~2~3' })).rejects.toMatchObject({ code: 'TRACED_INVALID_PARAMS' });
  });
});

describe('search: the types filter is a type or a dotted prefix, never a pattern', () => {
  it('matches the type and its subtypes only: no wildcards from % or _, no look-alike prefix, any ASCII case', async () => {
    const t = testServices();
    const s = await t.recorder.start({ project: tempDir('stypes-'), profile: 'events', channels: [] });
    await t.recorder.stop();
    const sid = s.session.id;
    const ev = (type: string, offset_ms: number) => ({ channel: 'editor', type, offset_ms, data: { note: 'zebrafish marker' } });
    // Far apart in time and each its own type: one result per event.
    t.events.appendLate(sid, [
      ev('ed.note', 10_000),
      ev('ed.note.pinned', 60_000),
      ev('edx.note', 120_000),
      ev('ed_note', 180_000),
      ev('edited.note', 240_000),
      ev('kd.note', 300_000),
    ]);
    const types = async (filter: string[]) => {
      const r = await t.services.search.run({ query: 'zebrafish', limit: 20, max_bytes: 40_000, order: 'first', types: filter } as never, sid);
      return r.hits.map((h) => h.type).sort();
    };
    // Unfiltered: all five, so the filter below is what removes them.
    expect(await types([])).toEqual(['ed.note', 'ed.note.pinned', 'ed_note', 'edited.note', 'edx.note', 'kd.note']);
    expect(await types(['ed'])).toEqual(['ed.note', 'ed.note.pinned']);
    expect(await types(['ed.note'])).toEqual(['ed.note', 'ed.note.pinned']);
    expect(await types(['ED.Note'])).toEqual(['ed.note', 'ed.note.pinned']);
    expect(await types(['ed.note.pinned'])).toEqual(['ed.note.pinned']);
    // LIKE would read _ as any character and % as anything.
    expect(await types(['ed_'])).toEqual([]);
    expect(await types(['e%'])).toEqual([]);
    expect(await types(['ed_note'])).toEqual(['ed_note']);
    expect(await types(['edx', 'edited'])).toEqual(['edited.note', 'edx.note']);
    // ASCII case only: the Kelvin sign is not a k (JavaScript's toLowerCase would make it one).
    expect(await types(['KD'])).toEqual(['kd.note']);
    expect(await types(['\u212ad'])).toEqual([]);
  });
});

describe('search: quotes mean whole words; an unquoted term also matches inside longer words', () => {
  it('an all-quoted query finds the words in order (any punctuation between) and nothing inside longer words; unquoted finds both', async () => {
    const t = testServices();
    const s = await t.recorder.start({ project: tempDir('squote-'), profile: 'events', channels: [] });
    await t.recorder.stop();
    const sid = s.session.id;
    const ev = (note: string, offset_ms: number) => ({ channel: 'editor', type: 'ed.note', offset_ms, data: { note } });
    // Far apart: one result per event.
    t.events.appendLate(sid, [
      ev('the cache is stale', 10_000),
      ev('cache, is: stale!', 60_000),
      ev('mycache is stalest', 120_000),
      ev('invalidateCache', 180_000),
      ev('stale is the cache', 240_000),
      ev('エラー日本語のテスト', 300_000),
      ev('résumé uploaded', 360_000),
      ev('a b c xyz', 420_000),
      ev('foo bar baz', 480_000),
      ev('서울에서 출발', 540_000),
    ]);
    const found = async (query: string) => {
      const r = await t.services.search.run({ query, limit: 20, max_bytes: 40_000, order: 'first' } as never, sid);
      return r.hits.map((h) => h.offset_ms).sort((a, b) => a - b);
    };
    expect(await found('"cache is stale"')).toEqual([10_000, 60_000]);
    expect(await found('"Cache"')).toEqual([10_000, 60_000, 240_000]);
    // Unquoted: words and substrings (mycache, invalidateCache).
    expect(await found('cache')).toEqual([10_000, 60_000, 120_000, 180_000, 240_000]);
    // One unquoted term keeps the substring side for the whole query: "mycache is stalest" holds both as substrings.
    expect(await found('"cache is" stale')).toEqual([10_000, 60_000, 120_000]);
    // A quoted prefix, however it is written, matches inside words as an unquoted one does.
    for (const q of ['"invalidateC"*', '"invalidateC*"', 'invalidateC*']) expect(await found(q), q).toEqual([180_000]);
    // Chinese and Japanese have no spaces between words: the word index holds the whole run as one word, so
    // a quoted run is searched inside it too.
    expect(await found('"日本語"')).toEqual([300_000]);
    expect(await found('日本語')).toEqual([300_000]);
    expect(await found('"서울"')).toEqual([]); // two characters: under the substring index's three
    expect(await found('"서울에"')).toEqual([540_000]);
    // A prefix reads the word index too, which folds diacritics and reads phrases across punctuation.
    expect(await found('resume*')).toEqual([360_000]);
    expect(await found('"resume"*')).toEqual([360_000]);
    expect(await found('"a b* c" xyz')).toEqual([420_000]);
    expect(await found('foo* "foo, bar"')).toEqual([480_000]);
  });
});

describe('grouping occurrences (property)', () => {
  const row = fc.record({
    session_id: fc.constantFrom('a', 'b'),
    type: fc.constantFrom('screen.text', 'terminal.output'),
    offset_ms: fc.integer({ min: 0, max: 600_000 }),
    len: fc.integer({ min: 0, max: 20_000 }),
    key: fc.constantFrom('', 'k1', 'k2', 'k3', 'k4'),
    score: fc.double({ min: -20, max: 0, noNaN: true }),
    index: fc.constantFrom('word' as const, 'substring' as const),
  });

  it('never loses or duplicates an occurrence; first ≤ last; one text of one session and kind is one group', () => {
    fc.assert(
      fc.property(fc.array(row, { maxLength: 200 }), (raw) => {
        const rows: MatchRow[] = raw.map((r, i) => ({
          id: i + 1,
          seq: i + 1,
          ts: 1_700_000_000_000 + r.offset_ms,
          end_ms: r.offset_ms + r.len,
          channel: 'c',
          session_id: r.session_id,
          type: r.type,
          offset_ms: r.offset_ms,
          key: r.key,
          score: r.score,
          index: r.index,
        }));
        const groups = groupRows(rows);
        const seen = groups.flatMap((g) => g.rows.map((r) => r.id)).sort((a, b) => a - b);
        expect(seen).toEqual(rows.map((r) => r.id));
        const groupOf = new Map<number, number>();
        for (const [gi, g] of groups.entries()) {
          expect(g.first.offset_ms).toBeLessThanOrEqual(g.last.offset_ms);
          expect(g.spans.reduce((n, s) => n + s.count, 0)).toBe(g.rows.length);
          for (const s of g.spans) expect(s.start).toBeLessThanOrEqual(s.end);
          expect(new Set(g.rows.map((r) => `${r.session_id}/${r.type}`)).size).toBe(1);
          for (const r of g.rows) {
            expect(r.offset_ms).toBeGreaterThanOrEqual(g.first.offset_ms);
            expect(r.offset_ms).toBeLessThanOrEqual(g.last.offset_ms);
            groupOf.set(r.id, gi);
          }
        }
        for (const a of rows)
          for (const b of rows)
            if (a.key && a.key === b.key && a.session_id === b.session_id && a.type === b.type) expect(groupOf.get(a.id)).toBe(groupOf.get(b.id));
      }),
      { numRuns: 200 },
    );
  });

  it('normalises what OCR varies between reads, and keeps different words apart', () => {
    expect(normText("error TS2345:  Argument of type 'string'")).toBe(normText("Error TS2345: argument of type 'strinG'"));
    expect(normText('src/cache.ts(42,17)')).toBe(normText('src/cache.ts(42,l7)'));
    expect(normText('TS2345')).not.toBe(normText('TS2322'));
  });
});

describe('search paging with the cursor (against the database)', () => {
  let t: TestServices;
  let sid = '';

  beforeAll(async () => {
    t = testServices();
    const s = await t.recorder.start({ project: tempDir('spage-'), profile: 'events', channels: [] });
    sid = s.session.id;
    await t.recorder.stop();
    // 600 events: 40 texts, each seen a few times across the session, with gaps that merge and that do not.
    let x = 7;
    const rand = () => {
      x = (x * 1103515245 + 12345) % 2147483648;
      return x / 2147483648;
    };
    const evs = Array.from({ length: 600 }, (_, i) => screen(Math.floor(rand() * 3_600_000), `build step ${i % 40} failed: cache miss in module m${i % 40}`));
    t.events.appendLate(sid, evs);
  });

  for (const [limit, maxBytes, order] of [
    [1, 40_000, 'first'],
    [7, 2_000, 'first'],
    [3, 40_000, 'recent'],
  ] as const) {
    it(`limit ${limit}, max_bytes ${maxBytes}, order ${order}: every matching event in exactly one result, none repeated`, async () => {
      const want = t.store.db
        .prepare("SELECT e.offset_ms FROM events_fts JOIN events e ON e.id = events_fts.rowid WHERE events_fts MATCH 'cache' AND e.session_id = ?")
        .all(sid) as { offset_ms: number }[];
      let cursor: string | undefined;
      const hits: Record<string, any>[] = [];
      for (let pages = 0; ; pages++) {
        const r = await t.services.search.run({ query: 'cache', limit, max_bytes: maxBytes, order, ...(cursor ? { cursor } : {}) } as never, sid);
        expect(r.hits.length).toBeGreaterThan(0);
        hits.push(...r.hits);
        if (!r.next_cursor) break;
        cursor = r.next_cursor;
        if (pages > 2000) throw new Error('paging does not end');
      }
      const ids = hits.map((h) => `${h.seq}`);
      expect(new Set(ids).size, 'a result repeated').toBe(ids.length);
      expect(hits.reduce((n, h) => n + h.occurrences, 0)).toBe(want.length);
      for (const w of want) expect(hits.some((h) => h.first_offset_ms <= w.offset_ms && w.offset_ms <= h.last_offset_ms)).toBe(true);
      if (order === 'recent') for (let i = 1; i < hits.length; i++) expect(hits[i]?.last_offset_ms).toBeLessThanOrEqual(hits[i - 1]?.last_offset_ms);
    });
  }
});

describe('search: a line seen again inside different screens is one result', () => {
  it('groups by the line holding the query, not the whole screen read (the scripted session of issue 15, in CI)', async () => {
    const t = testServices();
    const s = await t.recorder.start({ project: tempDir('sline-'), profile: 'events', channels: [] });
    await t.recorder.stop();
    const err = 'AssertionError: expected 7 to equal 9 (code QX4711)';
    t.events.appendLate(s.session.id, [
      screen(5189, `$ ./run-tests.sh\nFAIL src/cache.test.ts > drains in order\n${err}\nTests 1 failed | 11 passed (12)\n$`),
      screen(11_189, `Tests 1 failed | 11 passed (12)\n$ ./run-tests.sh\n${err}\nTests 1 failed | 11 passed (12)`),
      screen(28_189, `$ ./run-tests.sh\n${err}\nTests 1 failed | 11 passed (12)\n$ ./run-tests.sh\nFAIL src/cache.test.ts > drains in order\n${err}`),
      screen(31_189, `Tests 1 failed | 11 passed (12)\n$ ./run-tests.sh\n${err}\n$`),
    ]);
    const r = await t.services.search.run({ query: 'QX4711', limit: 20, max_bytes: 40_000, order: 'first', types: ['screen.text'] } as never, s.session.id);
    expect(r.hits).toHaveLength(1);
    expect(r.hits[0]).toMatchObject({ first_offset_ms: 5189, last_offset_ms: 31_189, occurrences: 4 });
  });
});
