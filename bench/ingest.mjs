// Event ingest into the SQLite store with FTS5 (WAL, synchronous=FULL):
// the store's batched append, and the engine's group-committed ingest path.
// Usage: npm run build && node bench/ingest.mjs [events]
import fs from 'node:fs';
import path from 'node:path';
import { Store } from '../dist/timeline/store.js';
import { eventText } from '../dist/timeline/event-text.js';
import { IpcClient } from '../dist/ipc/client.js';
import { startDaemon, tempHome } from './lib.mjs';

const total = Number(process.argv[2] ?? 200_000);
const words = ['cache', 'invalidate', 'store', 'session', 'parser', 'widget', 'render', 'TS2345', 'timeout', 'retry', 'socket', 'daemon'];
const pick = (i, k) => words[(i * 7 + k * 13) % words.length];

function makeEvent(sessionId, seq) {
  const kind = seq % 10;
  const type = kind < 7 ? 'file.changed' : kind < 9 ? 'editor.diagnostics' : 'git.commit';
  const data = type === 'git.commit'
    ? { hash: `${seq.toString(16).padStart(40, '0')}`, subject: `Fix ${pick(seq, 1)} ${pick(seq, 2)} in ${pick(seq, 3)}`, files: [{ path: `src/${pick(seq, 4)}.ts`, status: 'M' }] }
    : type === 'file.changed'
      ? { path: `src/${pick(seq, 1)}/${pick(seq, 2)}-${seq % 97}.ts`, kind: 'changed', size: 1000 + seq }
      : { file: `src/${pick(seq, 3)}.ts`, message: `error ${pick(seq, 7)}: Argument of type string is not assignable (${pick(seq, 5)})` };
  return { session_id: sessionId, seq, parent_seq: null, ts: 1_700_000_000_000 + seq, offset_ms: seq, channel: type.split('.')[0], type, data, text: eventText(type, data) };
}

// 1. Store: batches of 1000 events per transaction (what the group commit produces under load).
const home = tempHome();
const store = new Store(path.join(home, 'traced.db'));
store.insertSession({ id: '20260101-000000-aaaa', project: '/p', label: null, profile: 'events', state: 'recording', started_at: 1_700_000_000_000, meta: '{}' });
const events = Array.from({ length: total }, (_, i) => makeEvent('20260101-000000-aaaa', i + 1));
const batch = 1000;
const t0 = performance.now();
for (let i = 0; i < total; i += batch) store.appendEvents(events.slice(i, i + batch));
const storeMs = performance.now() - t0;
const size = fs.statSync(path.join(home, 'traced.db')).size + fs.statSync(path.join(home, 'traced.db-wal')).size;
store.close();
console.log(`store.appendEvents: ${total} events with FTS in ${storeMs.toFixed(0)} ms = ${Math.round(total / (storeMs / 1000))} events/s (batches of ${batch}, synchronous=FULL); db+wal ${(size / 1e6).toFixed(1)} MB`);

// 2. The whole path: ingest_event over the socket into a live session, 64 in flight.
const home2 = tempHome();
const proj = fs.mkdtempSync(path.join(home2, 'proj-'));
const d = await startDaemon(home2);
const c = await IpcClient.connect(d.socket);
await c.call('start_session', { project: proj, channels: [{ id: 'files', store: true }] });
const n2 = Math.min(total, 50_000);
let next = 0;
const t1 = performance.now();
await Promise.all(Array.from({ length: 64 }, async () => {
  while (next < n2) {
    const i = next++;
    await c.call('ingest_event', { type: 'editor.diagnostics', data: { file: `src/f${i % 50}.ts`, message: `error ${pick(i, 1)} ${pick(i, 2)}` } });
  }
}));
const ipcMs = performance.now() - t1;
await c.call('stop_session', {});
c.close();
d.child.kill('SIGTERM');
console.log(`ingest_event over IPC (acknowledged after commit): ${n2} events in ${ipcMs.toFixed(0)} ms = ${Math.round(n2 / (ipcMs / 1000))} events/s`);
console.log(`goal >= 20000 events/s into the store with FTS -> ${total / (storeMs / 1000) >= 20000 ? 'MET' : 'NOT MET'}`);
