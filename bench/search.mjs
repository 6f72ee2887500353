// Search latency over a synthetic store of about 1,000 hours: N indexed rows
// (on-screen text, transcripts, saves, commits, terminal commands,
// diagnostics) across sessions of one hour, then 20 realistic queries —
// identifiers, error codes, paths, phrases, prefixes, substrings, filters —
// through the engine's search (word + trigram indexes, moments merged).
// Usage: npm run build && node bench/search.mjs [rows=1000000] [runsPerQuery=5]
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../dist/config/config.js';
import { buildServices } from '../dist/daemon/main.js';
import { findOperation, invoke } from '../dist/api/index.js';
import { resolvePaths } from '../dist/config/paths.js';
import { eventText } from '../dist/timeline/event-text.js';
import { toFtsQuery } from '../dist/timeline/query.js';
import { Store } from '../dist/timeline/store.js';
import Database from 'better-sqlite3';
import { percentiles, tempHome } from './lib.mjs';

const rows = Number(process.argv[2] ?? 1_000_000);
const runs = Number(process.argv[3] ?? 5);
const perSession = 1000; // one event every 3.6 s for an hour
const sessions = Math.ceil(rows / perSession);

// A deterministic vocabulary of what developers see, say and type.
const ids = [
  'invalidateCache',
  'parseSessionId',
  'renderTimeline',
  'flushPending',
  'claimJobs',
  'resolveFfmpeg',
  'useMemo',
  'handleSubmit',
  'fetchUser',
  'computeDiff',
  'SessionEngine',
  'UploadQueue',
  'mergeAdjacent',
];
const files = [
  'src/cache/store.ts',
  'src/api/routes.ts',
  'src/ui/Timeline.tsx',
  'lib/parser.py',
  'cmd/server/main.go',
  'src/queue/queue.ts',
  'test/e2e/upload.test.ts',
];
const errors = ['TS2345', 'TS2322', 'TS7006', 'E0308', 'ECONNREFUSED', 'ENOENT', 'SIGSEGV', 'HTTP 503'];
const words = [
  'the',
  'cache',
  'is',
  'stale',
  'again',
  'we',
  'should',
  'retry',
  'after',
  'timeout',
  'upload',
  'failed',
  'because',
  'socket',
  'closed',
  'fix',
  'later',
  'test',
  'flaky',
  'merge',
  'branch',
  'review',
  'deploy',
  'rollback',
  'latency',
  'memory',
  'leak',
];
// mulberry32: deterministic, and unlike a plain LCG its low bits are not periodic.
let seed = 12345;
const rnd = (n) => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) % n;
};
const pick = (a) => a[rnd(a.length)];
const sentence = (n) => Array.from({ length: n }, () => pick(words)).join(' ');

function makeEvent(sid, started, seq) {
  const offset = Math.round((seq - 1) * 3600 + rnd(3000));
  const k = rnd(100);
  let channel, type, data;
  if (k < 40) {
    channel = 'display:1';
    type = 'screen.text';
    const f = pick(files);
    data = {
      text: `${f}(${1 + rnd(400)},${1 + rnd(80)}): error ${pick(errors)}: ${pick(ids)} ${sentence(8)}\n$ npm test -- ${pick(ids)}\n${sentence(12)}`,
      confidence: 80 + rnd(20),
      duration_ms: 5000,
    };
  } else if (k < 60) {
    channel = 'mic:default';
    type = 'transcript.segment';
    data = { text: sentence(10 + rnd(10)), end_offset_ms: offset + 4000, confidence: 0.8 };
  } else if (k < 75) {
    channel = 'files';
    type = 'file.changed';
    data = { path: pick(files), size: 1000 + rnd(90000) };
  } else if (k < 82) {
    channel = 'git';
    type = 'git.commit';
    data = { hash: rnd(1e9).toString(16).padStart(40, '0'), subject: `Fix ${pick(ids)}: ${sentence(5)}`, files: [{ path: pick(files), status: 'M' }] };
  } else if (k < 92) {
    channel = 'terminal';
    type = 'terminal.command';
    data = { command: `npm test -- ${pick(files)} --grep ${pick(ids)}`, exit_code: rnd(3) === 0 ? 1 : 0, cwd: '/work/app' };
  } else {
    channel = 'editor';
    type = 'editor.diagnostics';
    data = { file: pick(files), message: `${pick(errors)}: Argument of type string is not assignable in ${pick(ids)}` };
  }
  return { session_id: sid, seq, parent_seq: null, ts: started + offset, offset_ms: offset, channel, type, data, text: eventText(type, data) };
}

const home = tempHome();
const paths = resolvePaths({ env: { TRACED_HOME: home }, home });
fs.mkdirSync(paths.sessionsDir, { recursive: true });
const store = new Store(paths.db);
const t0 = performance.now();
const day0 = Date.UTC(2025, 0, 1);
const ids0 = [];
for (let s = 0; s < sessions; s++) {
  const started = day0 + s * 3 * 3600_000;
  const d = new Date(started);
  const sid = `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}-${String(d.getUTCHours()).padStart(2, '0')}0000-s${String(s % 1000).padStart(3, '0')}`;
  ids0.push(sid);
  store.transaction(() => {
    store.insertSession({ id: sid, project: '/work/app', label: null, profile: 'full', state: 'ended', started_at: started, meta: '{}' });
    store.endSession(sid, { state: 'ended', ended_at: started + 3600_000, end_offset_ms: 3600_000 });
  });
  const evs = [];
  for (let i = 1; i <= perSession && s * perSession + i <= rows; i++) evs.push(makeEvent(sid, started, i));
  store.appendEvents(evs);
}
const buildS = (performance.now() - t0) / 1000;
const dbBytes = ['traced.db', 'traced.db-wal'].reduce((a, f) => a + (fs.existsSync(path.join(home, f)) ? fs.statSync(path.join(home, f)).size : 0), 0);
console.log(
  `built ${rows} rows in ${sessions} one-hour sessions in ${buildS.toFixed(0)} s (${Math.round(rows / buildS)} rows/s, word + trigram indexes); db ${(dbBytes / 1e9).toFixed(2)} GB`,
);
store.db.pragma('wal_checkpoint(TRUNCATE)');

const built = buildServices({
  store,
  paths,
  config: loadConfig({ env: {}, file: {} }),
  logger: pino({ level: 'silent' }),
  env: {},
  cwd: home,
  version: 'bench',
  notify: () => undefined,
});
const searchOp = findOperation('search');
const mid = ids0[Math.floor(sessions / 2)];
const queries = [
  { query: 'TS2345' },
  { query: 'invalidateCache' },
  { query: 'Cache' }, // substring of identifiers
  { query: 'store.ts(42' },
  { query: 'src/cache/store.ts' },
  { query: '"cache is stale"' },
  { query: 'invalid*' },
  { query: 'upload failed socket' },
  { query: 'ECONNREFUSED retry' },
  { query: 'rollback' },
  { query: 'TS2345', session: mid },
  { query: 'invalidateCache', since: '2025-03-01T00:00:00Z', until: '2025-03-08T00:00:00Z' },
  { query: 'npm test', types: ['terminal.command'] },
  { query: 'flaky test', channels: ['mic:default'] },
  { query: 'Fix mergeAdjacent', types: ['git.commit'] },
  { query: 'HTTP 503' },
  { query: 'memory leak latency' },
  { query: 'SessionEngine', session: mid },
  { query: 'Timeline.tsx' },
  { query: 'nonexistentidentifierxyz' },
];
// The floor: a bare FTS5 query on the same database from its own read-only
// connection (traced's reads run on read-only worker connections too), the
// word index, the same MATCH expression, best-ranked 20 — what SQLite alone
// costs for the question. Interleaved with traced's run of the same query.
const floorDb = new Database(paths.db, { readonly: true });
const floorStmt = floorDb.prepare('SELECT rowid FROM events_fts WHERE events_fts MATCH ? ORDER BY rank LIMIT 20');
const all = [];
const floorAll = [];
const per = [];
for (const q of queries) {
  const times = [];
  const floorTimes = [];
  let hits = 0;
  const match = toFtsQuery(q.query);
  for (let r = 0; r < runs; r++) {
    const f = performance.now();
    floorStmt.all(match);
    floorTimes.push(performance.now() - f);
    const a = performance.now();
    const res = await invoke(searchOp, { limit: 20, ...q }, built.services);
    times.push(performance.now() - a);
    hits = res.hits.length;
  }
  all.push(...times);
  floorAll.push(...floorTimes);
  const p = percentiles(times);
  const pf = percentiles(floorTimes);
  per.push(
    `  ${JSON.stringify(q).padEnd(96)} p50 ${p.p50.toFixed(1).padStart(7)} ms  max ${Math.max(...times)
      .toFixed(1)
      .padStart(7)} ms  floor p50 ${pf.p50.toFixed(1).padStart(6)} ms  ${hits} hits`,
  );
}
floorDb.close();
console.log(per.join('\n'));
const p = percentiles(all);
const p95 = at(all, 95);
const f95 = at(floorAll, 95);
console.log(
  `search over ${rows} rows, ${queries.length} queries x ${runs}: p50 ${p.p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, max ${Math.max(...all).toFixed(1)} ms; bare FTS5 floor p50 ${percentiles(floorAll).p50.toFixed(1)} ms, p95 ${f95.toFixed(1)} ms`,
);
const ratio = p95 / f95;
console.log(
  `RATIO search/bare-FTS5 p95 = ${ratio.toFixed(2)}x (goal <= 3x and p95 <= 50 ms: ${ratio <= 3 && p95 <= 50 ? 'MET' : 'NOT MET'}; traced p95 ${p95.toFixed(1)} ms, floor p95 ${f95.toFixed(1)} ms)`,
);
store.close();
fs.rmSync(home, { recursive: true, force: true });

function at(xs, pct) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((pct / 100) * s.length))];
}
