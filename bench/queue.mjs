// The upload queue: (1) enqueue → claim → complete throughput on the real
// SQLite store; (2) cold-start recovery of orphaned segment files (no
// database) across many sessions; (3) upload throughput through the queue and
// the real videodb SDK to the local VideoDB server vs plain HTTP POSTs of the
// same files in the same run, with peak RSS while uploading.
// Usage: npm run build && node bench/queue.mjs [jobs=20000] [sessions=100] [filesPerSession=100] [uploadMb=1024]
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import pino from 'pino';
import { UploadQueue } from '../dist/queue/queue.js';
import { VideoDBTarget } from '../dist/queue/videodb.js';
import { Store } from '../dist/timeline/store.js';
import { ROOT, startDaemon, tempHome } from './lib.mjs';

const [jobs = 20_000, sessions = 100, perSession = 100, uploadMb = 1024] = process.argv.slice(2).map(Number);
// Both sides upload this many files at once; 4 is the queue's default (config queue.concurrency).
const CONC = Number(process.env.CONC ?? 4);
const silent = pino({ level: 'silent' });
const SESSION = '20260101-000000-aaaa';

// ---- 1. enqueue → claim → complete
{
  const home = tempHome();
  const store = new Store(path.join(home, 'traced.db'));
  store.insertSession({ id: SESSION, project: '/p', label: null, profile: 'full', state: 'ended', started_at: 1, meta: '{}' });
  const target = { name: 'null', run: async (job) => `r-${job.id}`, classify: () => 'retry' };
  const q = new UploadQueue(
    store.db,
    new Map([['null', target]]),
    { concurrency: 8, maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 100, timeoutMs: { segment: 10_000 }, pollMs: 5 },
    silent,
  );
  const t0 = process.hrtime.bigint();
  // One transaction per enqueue, as live segment registration does (each one an fsync with synchronous=FULL).
  const single = Math.min(2000, jobs);
  for (let i = 0; i < single; i++)
    store.transaction(() => q.enqueue({ target: 'null', kind: 'segment', session_id: SESSION, channel_id: 'display:1', segment_seq: i }));
  const tSingle = process.hrtime.bigint();
  // The rest in batches of 100, as recovery and backfill enqueue.
  for (let i = single; i < jobs; i += 100) {
    q.enqueueMany(
      Array.from({ length: Math.min(100, jobs - i) }, (_, k) => ({
        target: 'null',
        kind: 'segment',
        session_id: SESSION,
        channel_id: 'display:1',
        segment_seq: i + k,
      })),
    );
  }
  const t1 = process.hrtime.bigint();
  q.start();
  while (q.status().counts.done < jobs) await new Promise((r) => setTimeout(r, 5));
  const t2 = process.hrtime.bigint();
  await q.stop();
  store.close();
  const s = (a, b) => Number(b - a) / 1e9;
  console.log(
    `queue: ${jobs} jobs; enqueue one per transaction ${(single / s(t0, tSingle)).toFixed(0)}/s, in batches of 100 ${((jobs - single) / s(tSingle, t1)).toFixed(0)}/s; claim+run+complete ${(jobs / s(t1, t2)).toFixed(0)}/s; end to end ${(jobs / s(t0, t2)).toFixed(0)} jobs/s (goal >= 5000)`,
  );
  fs.rmSync(home, { recursive: true, force: true });
}

// ---- 2. recovery of orphaned segment files, no database
{
  const home = tempHome();
  const fx = path.join(home, 'fx');
  fs.mkdirSync(fx);
  execFileSync('ffmpeg', [
    '-v',
    'error',
    '-f',
    'lavfi',
    '-i',
    'testsrc=size=320x240:rate=2',
    '-t',
    '2',
    '-c:v',
    'libx264',
    '-pix_fmt',
    'yuv420p',
    path.join(fx, 'v.mkv'),
  ]);
  const started = 1_795_000_000_000;
  for (let s = 0; s < sessions; s++) {
    const id = `20260101-${String(s).padStart(6, '0')}-b${String(s).padStart(3, '0')}`;
    const dir = path.join(home, 'sessions', id);
    const ch = path.join(dir, 'display-1');
    fs.mkdirSync(ch, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'session.json'),
      JSON.stringify({
        format: 'traced-session/1',
        id,
        project: '/p',
        profile: 'full',
        state: 'ended',
        started_at: started,
        ended_at: started + perSession * 2000,
        channels: [{ id: 'display:1', store: true, kind: 'media' }],
      }),
    );
    const list = [];
    for (let i = 0; i < perSession; i++) {
      const name = `${String(i).padStart(5, '0')}.mkv`;
      fs.copyFileSync(path.join(fx, 'v.mkv'), path.join(ch, name));
      list.push(`${name},${i * 2}.000000,${i * 2 + 2}.000000`);
    }
    fs.writeFileSync(path.join(ch, 'list-1-1.csv'), `${list.join('\n')}\n`);
    fs.writeFileSync(path.join(ch, 'run-1-1.json'), JSON.stringify({ start_epoch_ms: started, first_seq: 0, list: 'list-1-1.csv' }));
  }
  const t0 = Date.now();
  const d = await startDaemon(home);
  const readyMs = Date.now() - t0;
  d.child.kill('SIGTERM');
  await new Promise((r) => d.child.once('exit', r));
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(path.join(home, 'traced.db'), { readonly: true });
  const n = db.prepare('SELECT COUNT(*) AS n FROM segments').get().n;
  const ns = db.prepare('SELECT COUNT(*) AS n FROM sessions').get().n;
  db.close();
  console.log(
    `recovery: ${n} orphaned segment files in ${ns} sessions registered (hashed, fsync'd) by a cold start in ${(readyMs / 1000).toFixed(2)} s until the socket answered (goal <= 5 s)`,
  );
  fs.rmSync(home, { recursive: true, force: true });
}

// ---- 3. upload throughput vs plain POSTs, RSS
{
  const home = tempHome();
  // The server runs in its own process, as the cloud would: neither side's work or memory is counted for the other.
  const proc = spawn(process.execPath, [path.join(ROOT, 'bench', 'fake-videodb.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve) => proc.stdout.once('data', (d) => resolve(String(d).trim())));
  const server = { url };
  const fileMb = 4;
  const count = Math.max(1, Math.round(uploadMb / fileMb));
  const files = path.join(home, 'sessions', SESSION, 'mic-default');
  fs.mkdirSync(files, { recursive: true });
  const blob = Buffer.alloc(fileMb * 1024 * 1024, 1);
  // One file written, hard-linked: same bytes on disk, no page-cache games between the two runs.
  fs.writeFileSync(path.join(files, '00000.ogg'), blob);
  for (let i = 1; i < count; i++) fs.linkSync(path.join(files, '00000.ogg'), path.join(files, `${String(i).padStart(5, '0')}.ogg`));
  const names = fs.readdirSync(files).sort();

  // Baseline: a plain multipart POST per file, CONC at a time (the same parallelism as the queue).
  const post = (file) =>
    new Promise((resolve, reject) => {
      const boundary = `----b${Date.now()}`;
      const head = Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${path.basename(file)}"\r\nContent-Type: audio/ogg\r\n\r\n`,
      );
      const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
      const size = fs.statSync(file).size;
      const req = http.request(
        `${server.url}/blob/plain-${path.basename(file)}`,
        {
          method: 'POST',
          headers: {
            'x-access-token': 'good-key',
            'content-type': `multipart/form-data; boundary=${boundary}`,
            'content-length': head.length + size + tail.length,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.write(head);
      const rs = fs.createReadStream(file);
      rs.on('end', () => req.end(tail));
      rs.pipe(req, { end: false });
    });
  const tb0 = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONC }, async () => {
      while (next < names.length) await post(path.join(files, names[next++]));
    }),
  );
  const plainS = (Date.now() - tb0) / 1000;

  const store = new Store(path.join(home, 'traced.db'));
  store.insertSession({ id: SESSION, project: '/p', label: null, profile: 'audio', state: 'ended', started_at: 1, meta: '{}' });
  const target = new VideoDBTarget({
    apiKey: () => 'good-key',
    baseUrl: server.url,
    collection: 'default',
    ffmpeg: async () => 'ffmpeg',
    tmpDir: path.join(home, 'tmp'),
    segmentFile: (job) => ({ file: path.join(files, `${String(job.segment_seq).padStart(5, '0')}.ogg`), media: 'audio' }),
  });
  const q = new UploadQueue(
    store.db,
    new Map([['videodb', target]]),
    { concurrency: CONC, maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 100, timeoutMs: { segment: 60_000 }, pollMs: 20 },
    silent,
  );
  for (let i = 0; i < count; i++) q.enqueue({ target: 'videodb', kind: 'segment', session_id: SESSION, channel_id: 'mic:default', segment_seq: i });
  let peak = 0;
  const rss0 = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const tq0 = Date.now();
  q.start();
  while (q.status().counts.done < count) await new Promise((r) => setTimeout(r, 20));
  const queueS = (Date.now() - tq0) / 1000;
  clearInterval(sampler);
  await q.stop();
  store.close();
  proc.kill('SIGTERM');
  const mb = count * fileMb;
  console.log(
    `upload: ${count} files x ${fileMb} MB = ${mb} MB; plain POST ${(mb / plainS).toFixed(0)} MB/s; queue + videodb SDK (3 requests per file) ${(mb / queueS).toFixed(0)} MB/s; ratio ${(plainS / queueS).toFixed(2)}x (goal >= 0.8x); process RSS ${(rss0 / 1048576).toFixed(0)} MB before, peak ${(peak / 1048576).toFixed(0)} MB while uploading (goal <= 200 MB)`,
  );
  fs.rmSync(home, { recursive: true, force: true });
}
