// Event ingest into the SQLite store with FTS5 (WAL, synchronous=FULL), with
// the redaction gate applied to every event as the engine does (redactDeep on
// the data, then eventText): the gate alone, the store's batched append with
// the gate, and the engine's group-committed ingest path over IPC.
// Usage: npm run build && node bench/ingest.mjs [events]
import fs from 'node:fs';
import path from 'node:path';
import { Store } from '../dist/timeline/store.js';
import { eventText } from '../dist/timeline/event-text.js';
import { redactDeep } from '../dist/timeline/redact.js';
import { IpcClient } from '../dist/ipc/client.js';
import { startDaemon, tempHome } from './lib.mjs';

const total = Number(process.argv[2] ?? 200_000);
const words = ['cache', 'invalidate', 'store', 'session', 'parser', 'widget', 'render', 'TS2345', 'timeout', 'retry', 'socket', 'daemon'];
const pick = (i, k) => words[(i * 7 + k * 13) % words.length];

// What a session sends: file changes, diagnostics, commits and terminal commands with
// their output (the text the gate works hardest on); one command in 200 holds a secret.
const commands = [
  (i) => `npm test -- --grep "${pick(i, 1)} ${pick(i, 2)}"`,
  (i) => `git commit -m "Fix ${pick(i, 3)} ${pick(i, 4)} (#${i % 900})"`,
  (i) => `curl -s -H "Accept: application/json" https://api.example.com/v1/${pick(i, 5)}?page=${i % 7}`,
  (i) => `docker compose logs --tail 50 ${pick(i, 6)}`,
  (i) => `rg -n "invalidate${pick(i, 2)}" src/ --type ts`,
];
function makeRaw(seq) {
  const kind = seq % 10;
  const type = kind < 6 ? 'file.changed' : kind < 8 ? 'editor.diagnostics' : kind < 9 ? 'terminal.command' : 'git.commit';
  const data =
    type === 'git.commit'
      ? {
          hash: `${seq.toString(16).padStart(40, '0')}`,
          subject: `Fix ${pick(seq, 1)} ${pick(seq, 2)} in ${pick(seq, 3)}`,
          files: [{ path: `src/${pick(seq, 4)}.ts`, status: 'M' }],
        }
      : type === 'file.changed'
        ? { path: `src/${pick(seq, 1)}/${pick(seq, 2)}-${seq % 97}.ts`, kind: 'changed', size: 1000 + seq }
        : type === 'terminal.command'
          ? {
              command: seq % 200 === 8 ? `export GITHUB_TOKEN=ghp_${'a1B2c3D4e5'.repeat(4).slice(0, 36)}` : commands[seq % commands.length](seq),
              cwd: `/home/dev/project/${pick(seq, 2)}`,
              exit_code: seq % 13 === 0 ? 1 : 0,
              duration_ms: 120 + (seq % 900),
              output: `src/${pick(seq, 3)}.ts(42,17): error TS2345: Argument of type 'string' is not assignable to parameter of type 'number'.\n  ${seq} passing (${seq % 90}ms)`,
            }
          : { file: `src/${pick(seq, 3)}.ts`, message: `error ${pick(seq, 7)}: Argument of type string is not assignable (${pick(seq, 5)})` };
  return { type, data };
}
/** The gate, as the engine applies it to each event before it is stored. */
function gate(sessionId, seq, raw) {
  const data = redactDeep(raw.data);
  return {
    session_id: sessionId,
    seq,
    parent_seq: null,
    ts: 1_700_000_000_000 + seq,
    offset_ms: seq,
    channel: raw.type.split('.')[0],
    type: raw.type,
    data,
    text: eventText(raw.type, data),
  };
}

// 0. The gate alone: redactDeep + eventText per event, nothing stored.
const raws = Array.from({ length: total }, (_, i) => makeRaw(i + 1));
for (let i = 0; i < Math.min(total, 5000); i++) gate('warm', i, raws[i]);
const tg = performance.now();
const gated = new Array(total);
for (let i = 0; i < total; i++) gated[i] = gate('20260101-000000-aaaa', i + 1, raws[i]);
const gateMs = performance.now() - tg;
const leaked = gated.filter((e) => JSON.stringify(e).includes('ghp_')).length;
console.log(
  `redaction gate alone (redactDeep + eventText): ${total} events in ${gateMs.toFixed(0)} ms = ${Math.round(total / (gateMs / 1000))} events/s; planted secrets left: ${leaked}`,
);

// 0b. The store alone, on the same events gated beforehand: what the gate adds is the difference.
{
  const home0 = tempHome();
  const store0 = new Store(path.join(home0, 'traced.db'));
  store0.insertSession({
    id: '20260101-000000-aaaa',
    project: '/p',
    label: null,
    profile: 'events',
    state: 'recording',
    started_at: 1_700_000_000_000,
    meta: '{}',
  });
  const t = performance.now();
  for (let i = 0; i < total; i += 1000) store0.appendEvents(gated.slice(i, i + 1000));
  const ms = performance.now() - t;
  store0.close();
  console.log(
    `store.appendEvents alone (events gated beforehand): ${total} events with FTS in ${ms.toFixed(0)} ms = ${Math.round(total / (ms / 1000))} events/s`,
  );
}
gated.length = 0;

// 1. Store with the gate: batches of 1000 events per transaction (what the group commit produces
// under load), each event redacted and given its text inside the timed loop.
const home = tempHome();
const store = new Store(path.join(home, 'traced.db'));
store.insertSession({
  id: '20260101-000000-aaaa',
  project: '/p',
  label: null,
  profile: 'events',
  state: 'recording',
  started_at: 1_700_000_000_000,
  meta: '{}',
});
const batch = 1000;
const t0 = performance.now();
for (let i = 0; i < total; i += batch) {
  const events = [];
  for (let k = i; k < Math.min(total, i + batch); k++) events.push(gate('20260101-000000-aaaa', k + 1, raws[k]));
  store.appendEvents(events);
}
const storeMs = performance.now() - t0;
const size = fs.statSync(path.join(home, 'traced.db')).size + fs.statSync(path.join(home, 'traced.db-wal')).size;
store.close();
const storeRate = Math.round(total / (storeMs / 1000));
console.log(
  `gate + store.appendEvents: ${total} events with FTS in ${storeMs.toFixed(0)} ms = ${Math.round(total / (storeMs / 1000))} events/s (batches of ${batch}, synchronous=FULL); db+wal ${(size / 1e6).toFixed(1)} MB`,
);

// 2. The whole path: ingest_event over the socket into a live session, 64 in flight.
const home2 = tempHome();
const proj = fs.mkdtempSync(path.join(home2, 'proj-'));
const d = await startDaemon(home2);
const c = await IpcClient.connect(d.socket);
await c.call('start_session', { project: proj, channels: [{ id: 'files', store: true }] });
const n2 = Math.min(total, 50_000);
let next = 0;
const t1 = performance.now();
await Promise.all(
  Array.from({ length: 64 }, async () => {
    while (next < n2) {
      const i = next++;
      await c.call('ingest_event', { type: 'editor.diagnostics', data: { file: `src/f${i % 50}.ts`, message: `error ${pick(i, 1)} ${pick(i, 2)}` } });
    }
  }),
);
const ipcMs = performance.now() - t1;
await c.call('stop_session', {});
c.close();
d.child.kill('SIGTERM');
console.log(`ingest_event over IPC (acknowledged after commit): ${n2} events in ${ipcMs.toFixed(0)} ms = ${Math.round(n2 / (ipcMs / 1000))} events/s`);
console.log(`store ingest with FTS and the redaction gate: ${storeRate} events/s (goal >= 20000 events/s: ${storeRate >= 20000 ? 'MET' : 'NOT MET'})`);
