/**
 * Paging checked against the database, not against the code's own idea:
 * ~3,000 events pushed with wall times deliberately out of order (and a few of
 * ~50 KB), then every way of walking them — get_timeline pages at several
 * limits and byte budgets, replay_cursor by count and by time, get_session
 * continued by get_timeline, search continued by its cursor (results group
 * re-read text, so every matching event must lie in exactly one result) —
 * must return each stored event exactly once, and no reply may exceed the
 * byte budget asked for (one oversized event alone on its page excepted).
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IpcClient } from '../../src/ipc/client.js';
import { toFtsQuery, toTrigramQuery } from '../../src/timeline/query.js';
import { MAX_MATCH_ROWS } from '../../src/timeline/search-groups.js';
import { BIN, killHomeDaemon, stopDaemonProc, type DaemonProc } from '../helpers/env.js';
import { makeArena, startArenaDaemon, type Arena } from '../helpers/hostile.js';

const EVENTS = 3000;
const LARGE = 6;
const DEFAULT_MAX_BYTES = 40_000;

interface Ev {
  seq: number;
  offset_ms: number;
}

/** A seeded PRNG (mulberry32): the same out-of-order times every run for a given seed. */
function rng(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

const bytes = (v: unknown) => Buffer.byteLength(JSON.stringify(v));

/** Each seq once, none missing, none extra: a list of what is wrong (empty when right). */
function compare(got: number[], want: number[]): string[] {
  const problems: string[] = [];
  const seen = new Set<number>();
  const dups = got.filter((s) => {
    if (seen.has(s)) return true;
    seen.add(s);
    return false;
  });
  if (dups.length) problems.push(`${dups.length} duplicates, e.g. ${dups.slice(0, 5).join(',')}`);
  const wantSet = new Set(want);
  const missing = want.filter((s) => !seen.has(s));
  if (missing.length) problems.push(`${missing.length} missing, e.g. ${missing.slice(0, 5).join(',')}`);
  const extra = [...seen].filter((s) => !wantSet.has(s));
  if (extra.length) problems.push(`${extra.length} not in the database, e.g. ${extra.slice(0, 5).join(',')}`);
  return problems;
}

describe('paging every event exactly once, within the byte budget', () => {
  let a: Arena;
  let daemon: DaemonProc;
  let c: IpcClient;
  let db: Database.Database;
  let sid = '';
  let small = '';
  const seed = Number(process.env.HOSTILE_SEED ?? Date.now() % 2_147_483_647);
  const figures: string[] = [];

  const call = (method: string, params: Record<string, unknown>) => c.call(method, params, { timeoutMs: 15_000 }) as Promise<any>;
  const dbSeqs = (session: string) =>
    (db.prepare('SELECT seq FROM events WHERE session_id = ? ORDER BY seq').all(session) as { seq: number }[]).map((r) => r.seq);

  beforeAll(async () => {
    a = await makeArena('thp-');
    daemon = await startArenaDaemon(a);
    c = await IpcClient.connect(a.socket);
    const started = await call('start_session', { project: a.repo, label: 'paging' });
    sid = started.session.id;
    const t0 = started.session.started_at as number;
    const rand = rng(seed);
    const big = Array.from({ length: LARGE }, (_, i) => Math.floor(((i + 1) * EVENTS) / (LARGE + 1)));
    // Let the session clock run first, so random times within it spread over seconds.
    await new Promise((r) => setTimeout(r, 2000));
    // Batches in flight together, as an editor under load would push them; every `ts` is random within
    // the session so far (a few before its start), so many land before events already stored.
    for (let i = 0; i < EVENTS; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, EVENTS - i) }, (_, k) => {
          const n = i + k;
          const ts = Math.round(t0 - 200 + rand() * (Date.now() - t0 + 200));
          const data = big.includes(n) ? { n, note: 'lorem ipsum dolor sit amet '.repeat(1850) } : { n, path: `src/file-${n % 97}.ts`, line: n % 400 };
          return call('ingest_event', { type: n % 3 ? 'editor.file_opened' : 'agent.message', channel: n % 3 ? 'editor' : 'agent', data, ts });
        }),
      );
    }
    await call('stop_session', {});
    const s2 = await call('start_session', { project: a.repo, label: 'small' });
    small = s2.session.id;
    for (let i = 0; i < 800; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, k) => call('ingest_event', { type: 'editor.file_opened', data: { path: `src/f${(i + k) % 50}.ts`, line: i + k } })),
      );
    }
    await call('stop_session', {});
    db = new Database(path.join(a.home, 'traced.db'), { readonly: true, fileMustExist: true });
  }, 180_000);

  afterAll(async () => {
    console.log(`[hostile paging] seed=${seed}\n${figures.join('\n')}`);
    db?.close();
    c?.close();
    await stopDaemonProc(daemon);
    if (a) killHomeDaemon(a);
  });

  it('stored every pushed event, with times out of seq order', () => {
    const rows = db.prepare('SELECT seq, offset_ms, length(data) AS len FROM events WHERE session_id = ? ORDER BY seq').all(sid) as (Ev & { len: number })[];
    expect(rows.length).toBeGreaterThanOrEqual(EVENTS);
    const inversions = rows.filter((r, i) => i > 0 && r.offset_ms < (rows[i - 1] as Ev).offset_ms).length;
    expect(inversions).toBeGreaterThan(EVENTS / 4);
    expect(rows.filter((r) => r.len > 40_000).length).toBe(LARGE);
    figures.push(`session ${sid}: ${rows.length} events, ${inversions} seq/offset inversions`);
  });

  for (const limit of [1, 7, 100, undefined]) {
    for (const maxBytes of [1000, undefined]) {
      it(`get_timeline pages (limit ${limit ?? 'default'}, max_bytes ${maxBytes ?? 'default'}) return every event once, each page within the budget`, async () => {
        const budget = maxBytes ?? DEFAULT_MAX_BYTES;
        const got: number[] = [];
        const over: string[] = [];
        let after: number | undefined;
        let pages = 0;
        for (;;) {
          const r = await call('get_timeline', {
            session: sid,
            ...(limit ? { limit } : {}),
            ...(maxBytes ? { max_bytes: maxBytes } : {}),
            ...(after !== undefined ? { after_seq: after } : {}),
          });
          pages++;
          const size = bytes(r);
          if (size > budget && r.events.length > 1) over.push(`page ${pages} (after_seq ${after}): ${size} bytes, ${r.events.length} events`);
          if (limit) expect(r.events.length).toBeLessThanOrEqual(limit);
          for (let i = 1; i < r.events.length; i++) expect(r.events[i].seq).toBeGreaterThan(r.events[i - 1].seq);
          got.push(...r.events.map((e: Ev) => e.seq));
          if (r.next_after_seq === null) break;
          expect(r.next_after_seq).toBe(r.events[r.events.length - 1].seq);
          after = r.next_after_seq;
          if (pages > 20_000) throw new Error('paging does not end');
        }
        figures.push(`get_timeline limit=${limit ?? 'default'} max_bytes=${maxBytes ?? 'default'}: ${pages} pages, ${got.length} events`);
        expect(compare(got, dbSeqs(sid))).toEqual([]);
        expect(over, `replies over ${budget} bytes`).toEqual([]);
      }, 120_000);
    }
  }

  /** Walks replay_cursor with `step` params until done; returns the events in the order given. */
  async function walkCursor(
    step: (pos: { cursor?: string }) => Record<string, unknown>,
    maxBytes?: number,
  ): Promise<{ events: Ev[]; calls: number; over: string[] }> {
    const events: Ev[] = [];
    const over: string[] = [];
    let cursor: string | undefined;
    let calls = 0;
    for (;;) {
      const r = await call('replay_cursor', { ...(cursor ? { cursor } : { session: sid }), ...step({ cursor }), ...(maxBytes ? { max_bytes: maxBytes } : {}) });
      calls++;
      const size = bytes(r);
      if (size > (maxBytes ?? DEFAULT_MAX_BYTES) && r.events.length > 1) over.push(`call ${calls}: ${size} bytes, ${r.events.length} events`);
      events.push(...r.events);
      cursor = r.cursor;
      if (r.done) break;
      if (calls > 20_000) throw new Error('the cursor walk does not end');
    }
    return { events, calls, over };
  }

  function inWalkOrder(events: Ev[]): string[] {
    const bad: string[] = [];
    for (let i = 1; i < events.length; i++) {
      const p = events[i - 1] as Ev;
      const e = events[i] as Ev;
      if (e.offset_ms < p.offset_ms || (e.offset_ms === p.offset_ms && e.seq <= p.seq)) bad.push(`${p.seq}@${p.offset_ms} then ${e.seq}@${e.offset_ms}`);
    }
    return bad.slice(0, 5);
  }

  for (const [advance, maxBytes] of [
    [1, undefined],
    [13, undefined],
    [1000, undefined],
    [1000, 1000],
  ] as const) {
    it(`replay_cursor advancing ${advance} (max_bytes ${maxBytes ?? 'default'}) returns every event once, in time order`, async () => {
      const w = await walkCursor(() => ({ advance }), maxBytes);
      figures.push(`replay_cursor advance=${advance} max_bytes=${maxBytes ?? 'default'}: ${w.calls} calls, ${w.events.length} events`);
      expect(
        compare(
          w.events.map((e) => e.seq),
          dbSeqs(sid),
        ),
      ).toEqual([]);
      expect(inWalkOrder(w.events)).toEqual([]);
      expect(w.over).toEqual([]);
    }, 120_000);
  }

  it('replay_cursor stepping advance_to_ms returns every event once, in time order', async () => {
    const maxOffset = (db.prepare('SELECT max(offset_ms) AS m FROM events WHERE session_id = ?').get(sid) as { m: number }).m;
    const stepMs = Math.max(1, Math.ceil(maxOffset / 37));
    const events: Ev[] = [];
    const over: string[] = [];
    let cursor: string | undefined;
    let calls = 0;
    let to = 0;
    // The same target again while calls return events (a reply cut by the budget), then the next step.
    for (;;) {
      const r = await call('replay_cursor', { ...(cursor ? { cursor } : { session: sid }), advance_to_ms: to });
      calls++;
      if (bytes(r) > DEFAULT_MAX_BYTES && r.events.length > 1) over.push(`call ${calls}: ${bytes(r)} bytes, ${r.events.length} events`);
      events.push(...r.events);
      cursor = r.cursor;
      if (r.events.length === 0) {
        if (to > maxOffset) break;
        to += stepMs;
      }
      if (calls > 20_000) throw new Error('the stepped walk does not end');
    }
    figures.push(`replay_cursor advance_to_ms step ${stepMs} ms: ${calls} calls, ${events.length} events`);
    expect(
      compare(
        events.map((e) => e.seq),
        dbSeqs(sid),
      ),
    ).toEqual([]);
    expect(inWalkOrder(events)).toEqual([]);
    expect(over).toEqual([]);
  }, 120_000);

  for (const [eventsLimit, maxBytes] of [
    [undefined, undefined],
    [5000, 1000],
    [5000, undefined],
  ] as const) {
    it(`get_session (events_limit ${eventsLimit ?? 'default'}, max_bytes ${maxBytes ?? 'default'}) continued by get_timeline returns every event once`, async () => {
      const budget = maxBytes ?? DEFAULT_MAX_BYTES;
      const s = await call('get_session', {
        session: sid,
        ...(eventsLimit ? { events_limit: eventsLimit } : {}),
        ...(maxBytes ? { max_bytes: maxBytes } : {}),
      });
      const over: string[] = [];
      if (bytes(s) > budget && s.events.length > 1) over.push(`get_session: ${bytes(s)} bytes, ${s.events.length} events`);
      expect(s.truncated).toBe(true);
      const got: number[] = s.events.map((e: Ev) => e.seq);
      let after = s.next_after_seq as number | null;
      let pages = 1;
      while (after !== null) {
        const r = await call('get_timeline', { session: sid, after_seq: after, ...(maxBytes ? { max_bytes: maxBytes } : {}) });
        if (bytes(r) > budget && r.events.length > 1) over.push(`page ${pages}: ${bytes(r)} bytes`);
        got.push(...r.events.map((e: Ev) => e.seq));
        after = r.next_after_seq;
        if (++pages > 20_000) throw new Error('paging does not end');
      }
      figures.push(`get_session events_limit=${eventsLimit ?? 'default'} max_bytes=${maxBytes ?? 'default'} + get_timeline: ${pages} replies`);
      expect(compare(got, dbSeqs(sid))).toEqual([]);
      expect(over).toEqual([]);
    }, 120_000);
  }

  for (const [query, limit, maxBytes, order] of [
    ['file', 1, 1000, 'first'],
    ['file', undefined, undefined, 'first'],
    ['src/file-1', 13, undefined, 'recent'],
  ] as const) {
    it(`search "${query}" (limit ${limit ?? 'default'}, max_bytes ${maxBytes ?? 'default'}, order ${order}) pages cover every matching event in exactly one result`, async () => {
      // What the search must cover, straight from the database: word-index matches plus substring-only ones.
      const match = (table: string, expr: string | undefined) =>
        expr === undefined
          ? []
          : (db
              .prepare(`SELECT e.seq, e.offset_ms FROM ${table} JOIN events e ON e.id = ${table}.rowid WHERE ${table} MATCH ? AND e.session_id = ?`)
              .all(expr, sid) as Ev[]);
      const want = new Map<number, Ev>();
      for (const r of [...match('events_fts', toFtsQuery(query)), ...match('events_trigram', toTrigramQuery(query))]) want.set(r.seq, r);
      expect(want.size).toBeGreaterThan(0);
      const hits: { seq: number; first_offset_ms: number; last_offset_ms: number; occurrences: number }[] = [];
      const over: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      let warned = false;
      for (;;) {
        const r = await call('search', {
          query,
          session: sid,
          order,
          ...(limit ? { limit } : {}),
          ...(maxBytes ? { max_bytes: maxBytes } : {}),
          ...(cursor ? { cursor } : {}),
        });
        pages++;
        if (bytes(r) > (maxBytes ?? DEFAULT_MAX_BYTES) && r.hits.length > 1) over.push(`page ${pages}: ${bytes(r)} bytes`);
        if (limit) expect(r.hits.length).toBeLessThanOrEqual(limit);
        hits.push(...r.hits);
        if ((r.warnings ?? []).some((w: string) => /only the newest were grouped/.test(w))) warned = true;
        if (!r.next_cursor) break;
        cursor = r.next_cursor;
        if (pages > 20_000) throw new Error('paging does not end');
      }
      figures.push(
        `search "${query}" limit=${limit ?? 'default'} max_bytes=${maxBytes ?? 'default'} order=${order}: ${pages} pages, ${hits.length} results, ${want.size} events`,
      );
      // No result twice; together they hold exactly the matching events; each event lies inside a result's span.
      expect(
        compare(
          hits.map((h) => h.seq),
          [...new Set(hits.map((h) => h.seq))],
        ),
      ).toEqual([]);
      const covered = hits.reduce((n, h) => n + h.occurrences, 0);
      // Past MAX_MATCH_ROWS matches per index only the newest are grouped, and the reply says so: then every
      // result is still a matching event, none twice, and at least the cap's worth is covered.
      const capped =
        [...match('events_fts', toFtsQuery(query))].length > MAX_MATCH_ROWS || match('events_trigram', toTrigramQuery(query)).length > MAX_MATCH_ROWS;
      expect(warned, 'a capped search says so').toBe(capped);
      if (capped) {
        expect(covered).toBeGreaterThanOrEqual(MAX_MATCH_ROWS);
        expect(covered).toBeLessThanOrEqual(want.size);
        expect(hits.filter((h) => !want.has(h.seq)).map((h) => h.seq)).toEqual([]);
      } else {
        expect(covered).toBe(want.size);
        const outside = [...want.values()].filter((w) => !hits.some((h) => h.first_offset_ms <= w.offset_ms && w.offset_ms <= h.last_offset_ms));
        expect(outside.map((w) => w.seq).slice(0, 5)).toEqual([]);
      }
      expect(over).toEqual([]);
    }, 120_000);
  }

  it('keeps the default get_timeline of 800 small events under ~45 KB of JSON over MCP', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'mcp'],
      env: a.env as Record<string, string>,
      cwd: a.cwd,
      stderr: 'pipe',
    });
    const mcp = new Client({ name: 'traced-paging', version: '1.0.0' });
    await mcp.connect(transport);
    try {
      await mcp.listTools();
      const r = await mcp.callTool({ name: 'get_timeline', arguments: { session: small } }, undefined, { timeout: 15_000 });
      expect(r.isError).toBeFalsy();
      const text = String((r.content as any[])[0].text);
      const textBytes = Buffer.byteLength(text);
      const whole = bytes(r);
      const n = (r.structuredContent as any).events.length;
      figures.push(
        `MCP get_timeline default on 800 small events: text ${textBytes} bytes (${n} events, next_after_seq ${(r.structuredContent as any).next_after_seq}); whole result with structuredContent ${whole} bytes`,
      );
      expect(textBytes).toBeLessThan(45_000);
      expect(dbSeqs(small).length).toBeGreaterThanOrEqual(800);
    } finally {
      await mcp.close();
    }
  }, 60_000);
});
