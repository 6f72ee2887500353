/**
 * Hostile repros (h-atk1) for grouped search paging. Each `it` states the
 * behaviour the design promises (§ search: "paging is exact"); they fail on
 * main at 58890ff.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EventInsert } from '../../src/timeline/rows.js';
import { Search } from '../../src/timeline/search.js';
import { Store } from '../../src/timeline/store.js';
import { tempDir } from '../helpers/env.js';

const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'omega', 'kappa', 'zeta', 'theta'];

function seeded() {
  const store = new Store(path.join(tempDir('atk1-search'), 'db.sqlite'));
  const t0 = Date.now() - 3_600_000;
  store.insertSession({ id: 's1', project: '/p', label: null, profile: 'default', state: 'recording', started_at: t0, meta: '{}' });
  let seq = 0;
  let rnd = 12345;
  const r = () => (rnd = (rnd * 1103515245 + 12345) % 2147483648) / 2147483648;
  const ev = (off: number, text: string, type = 'terminal.output'): EventInsert => ({
    session_id: 's1',
    seq: ++seq,
    parent_seq: null,
    ts: t0 + off,
    offset_ms: off,
    channel: type.split('.')[0] as string,
    type,
    data: { text },
    text,
  });
  const rows: EventInsert[] = [];
  for (let i = 0; i < 300; i++) {
    const filler = Array.from({ length: 1 + Math.floor(r() * 30) }, () => WORDS[Math.floor(r() * WORDS.length)]).join(' ');
    // 20 s apart and all different: every matching row is its own result.
    rows.push(ev(i * 20_000, `${filler} flux item${i}`, r() < 0.5 ? 'terminal.output' : 'screen.text'));
  }
  store.appendEvents(rows);
  return { store, t0, ev, total: rows.length, nextOff: () => 300 * 20_000 + seq };
}

async function pageAll(search: Search, q: Record<string, unknown>, between: () => void) {
  const seen = new Map<string, number>();
  let cursor: string | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const out = await search.run({ query: 'flux', limit: 5, max_bytes: 4000, ...q, ...(cursor ? { cursor } : {}) } as never);
    for (const h of out.hits) seen.set(`${h.session_id}/${h.seq}`, (seen.get(`${h.session_id}/${h.seq}`) ?? 0) + 1);
    if (!out.next_cursor) break;
    cursor = out.next_cursor;
    between();
  }
  return seen;
}

describe('grouped search paging (h-atk1)', () => {
  it('order "first": events recorded between pages (not matching the query) neither drop nor repeat results', async () => {
    const { store, ev, total, nextOff } = seeded();
    const search = new Search({ store, now: () => Date.now() });
    // The session keeps recording while the assistant pages: ordinary output that does not match.
    const seen = await pageAll(search, {}, () => store.appendEvents([ev(nextOff(), 'npm run build kappa kappa kappa kappa')]));
    expect([...seen.values()].filter((n) => n > 1)).toEqual([]);
    expect(seen.size).toBe(total);
  });

  it('order "first": without writes between pages every result comes exactly once (control)', async () => {
    const { store, total } = seeded();
    const search = new Search({ store, now: () => Date.now() });
    const seen = await pageAll(search, {}, () => {});
    expect(seen.size).toBe(total);
  });

  it('a relative `since` is the same window on every page of one search', async () => {
    const { store, t0 } = seeded();
    let now = t0 + 300 * 20_000;
    const search = new Search({ store, now: () => now });
    const expected = (store.db.prepare('SELECT COUNT(*) AS c FROM events WHERE text LIKE ? AND ts >= ?').get('%flux%', now - 30 * 60_000) as { c: number }).c;
    // 30 s between pages: an assistant reading each page.
    const seen = await pageAll(search, { since: '30m' }, () => (now += 30_000));
    expect(seen.size).toBe(expected);
  });
});
