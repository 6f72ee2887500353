/**
 * Past MAX_MATCH_ROWS matches, search groups the newest — and what it groups
 * is one range: every matching event (of either index) from the oldest one
 * shown up, with no holes, and the warning is given exactly when a matching
 * event is left out. Through the real `search` operation, every page.
 * (Attacks from a hostile review: word and substring-only matches interleaved,
 * a substring walk that overflows by one.)
 */
import { describe, expect, it } from 'vitest';
import { findOperation, invoke } from '../../src/api/index.js';
import type { EventInsert } from '../../src/timeline/rows.js';
import { MAX_MATCH_ROWS } from '../../src/timeline/search-groups.js';
import { testServices } from '../helpers/services.js';

const SID = '20250101-000000-capx';

function setup(texts: string[]) {
  const t = testServices();
  const t0 = Date.now() - 86_400_000;
  t.store.insertSession({ id: SID, project: '/p', label: null, profile: 'events', state: 'stopped', started_at: t0, meta: '{}' } as never);
  const rows = texts.map(
    (text, i): EventInsert => ({
      session_id: SID,
      seq: i + 1,
      parent_seq: null,
      ts: t0 + i * 20_000,
      offset_ms: i * 20_000,
      channel: 'terminal',
      type: 'terminal.output',
      data: {},
      text,
    }),
  );
  for (let i = 0; i < rows.length; i += 1000) t.store.appendEvents(rows.slice(i, i + 1000));
  return t;
}

/** Every page of one search: the seqs grouped (each hit is one event here: 20 s apart, distinct texts) and the warnings. */
async function pageAll(t: ReturnType<typeof testServices>, query: string) {
  const op = findOperation('search');
  if (!op) throw new Error('no search operation');
  const seqs: number[] = [];
  const warnings = new Set<string>();
  let cursor: string | undefined;
  for (let p = 0; p < 500; p++) {
    const r = (await invoke(op, { query, session: SID, limit: 100, max_bytes: 900_000, ...(cursor ? { cursor } : {}) }, t.services)) as {
      hits: { seq: number; occurrences: number }[];
      warnings?: string[];
      next_cursor: string | null;
    };
    for (const h of r.hits) {
      expect(h.occurrences).toBe(1);
      seqs.push(h.seq);
    }
    for (const w of r.warnings ?? []) warnings.add(w);
    if (!r.next_cursor) break;
    cursor = r.next_cursor;
  }
  return { seqs, warned: [...warnings].some((w) => /only the newest were grouped/.test(w)) };
}

/** Matching seqs newer than the oldest grouped one that were left out. */
function holes(matching: number[], grouped: number[]): number[] {
  const got = new Set(grouped);
  const oldest = Math.min(...grouped);
  return matching.filter((s) => s > oldest && !got.has(s));
}

describe('a capped search groups one range and says so exactly when it leaves a match out', () => {
  it('exactly the cap of matches (word and substring-only): all grouped, no warning', async () => {
    const texts = [...Array.from({ length: MAX_MATCH_ROWS - 2 }, (_, i) => `needle case ${i}`), 'needlework a', 'needlework b'];
    const { seqs, warned } = await pageAll(setup(texts), 'needle');
    expect(new Set(seqs).size).toBe(MAX_MATCH_ROWS);
    expect(warned).toBe(false);
  }, 120_000);

  it('one over the cap: the oldest is left out, the rest grouped, and the reply says so', async () => {
    const texts = [...Array.from({ length: MAX_MATCH_ROWS - 1 }, (_, i) => `needle case ${i}`), 'needlework a', 'needlework b'];
    const { seqs, warned } = await pageAll(setup(texts), 'needle');
    expect(warned).toBe(true);
    expect(new Set(seqs).size).toBe(MAX_MATCH_ROWS);
    expect(seqs).not.toContain(1);
    expect(
      holes(
        texts.map((_, i) => i + 1),
        seqs,
      ),
    ).toEqual([]);
  }, 120_000);

  it('word and substring-only matches interleaved past both caps: no holes among the grouped range', async () => {
    const texts = Array.from({ length: 2 * (MAX_MATCH_ROWS + 100) }, (_, i) => (i % 2 === 0 ? `needle word ${i}` : `needlessly long ${i}`));
    const { seqs, warned } = await pageAll(setup(texts), 'needle');
    expect(warned).toBe(true);
    expect(seqs.length).toBeGreaterThanOrEqual(MAX_MATCH_ROWS);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(
      holes(
        texts.map((_, i) => i + 1),
        seqs,
      ),
    ).toEqual([]);
  }, 120_000);

  it('word matches only, past the cap, with substring-only matches older than the word window: none of those slip in', async () => {
    const texts = [...Array.from({ length: 300 }, (_, i) => `needlepoint ${i}`), ...Array.from({ length: MAX_MATCH_ROWS + 50 }, (_, i) => `needle ${i}`)];
    const { seqs, warned } = await pageAll(setup(texts), 'needle');
    expect(warned).toBe(true);
    expect(Math.min(...seqs)).toBeGreaterThan(300);
    expect(
      holes(
        texts.map((_, i) => i + 1),
        seqs,
      ),
    ).toEqual([]);
  }, 120_000);
});
