// Local indexing throughput on this machine, with a capture-like load running
// (x264 of a 1280x720 @ 2 fps source + opus of a 16 kHz source, as traced
// records): OCR frames per second and seconds per minute of screen, speech
// real-time factor, and the time a one-hour session takes to index.
// Usage: npm run build && node bench/index.mjs [minutes=3]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { Indexer } from '../dist/index/indexer.js';
import { chooseOcr } from '../dist/index/ocr.js';
import { chooseSpeech } from '../dist/index/speech.js';
import { Store } from '../dist/timeline/store.js';
import { tempHome } from './lib.mjs';

const minutes = Number(process.argv[2] ?? 3);
const home = tempHome();
const sid = '20260101-000000-bnch';
const sdir = path.join(home, 'sessions', sid);
fs.mkdirSync(path.join(sdir, 'display-1'), { recursive: true });
fs.mkdirSync(path.join(sdir, 'mic-default'), { recursive: true });

// Two screens. Worst case: every line of a dense terminal changes every frame (a fast scroll), so
// each sampled frame is read whole. Typical: a terminal that prints a new line every 5 s, so only
// the band that changed is read.
const scenario = process.env.SCENE ?? 'worst';
const lines = Array.from(
  { length: 22 },
  (_, i) => `src/cache/store.ts(${40 + i},17): error TS2345: Argument of type 'string' is not assignable to 'number' in invalidateCache${i}`,
);
const filters =
  scenario === 'worst'
    ? lines.map((l, i) => `drawtext=text='%{eif\\:n+${i}\\:d} ${l.replace(/[':,()]/g, ' ')}':fontcolor=white:fontsize=16:x=10:y=${40 + i * 22}:font=Monospace`)
    : lines.map(
        (l, i) =>
          `drawtext=text='${l.replace(/[':,()]/g, ' ')}':fontcolor=white:fontsize=16:x=10:y=${40 + i * 22}:font=Monospace:enable='gte(t,${(i * 60) / lines.length})'`,
      );
const video = path.join(sdir, 'display-1', '00000.mkv');
execFileSync('ffmpeg', [
  '-v',
  'error',
  '-f',
  'lavfi',
  '-i',
  'color=c=0x202020:s=1280x720:r=2',
  '-t',
  '60',
  '-vf',
  filters.join(','),
  '-c:v',
  'libx264',
  '-preset',
  'veryfast',
  '-crf',
  '30',
  '-pix_fmt',
  'yuv420p',
  video,
]);
// A minute of continuous speech (the worst case: no silence to skip).
const wav = path.join(home, 'say.wav');
execFileSync('espeak-ng', [
  '-w',
  wav,
  Array.from({ length: 12 }, () => 'the cache invalidation test is failing again because the upload socket closed before the retry').join('. '),
]);
const audio = path.join(sdir, 'mic-default', '00000.ogg');
execFileSync('ffmpeg', ['-v', 'error', '-stream_loop', '-1', '-i', wav, '-t', '60', '-ar', '16000', '-ac', '1', '-c:a', 'libopus', '-b:a', '24k', audio]);

const store = new Store(path.join(home, 'traced.db'));
store.insertSession({ id: sid, project: '/p', label: null, profile: 'full', state: 'ended', started_at: 1_795_000_000_000, meta: '{}' });
for (let i = 0; i < minutes; i++) {
  // The same minute several times: distinct rows, so the indexer does the work again.
  for (const [ch, dir, ext, src] of [
    ['display:1', 'display-1', 'mkv', video],
    ['mic:default', 'mic-default', 'ogg', audio],
  ]) {
    const rel = path.join(dir, `${String(i).padStart(5, '0')}.${ext}`);
    if (i > 0) fs.copyFileSync(src, path.join(sdir, rel));
    store.insertSegment({
      session_id: sid,
      channel_id: ch,
      seq: i,
      path: rel,
      start_offset_ms: i * 60_000,
      duration_ms: 60_000,
      bytes: 1,
      sha256: 'x',
      state: 'complete',
      created_at: i,
    });
  }
}

const env = process.env;
const ocr = await chooseOcr({ enabled: true, engine: 'auto', env });
// pocketsphinx by name: `auto` runs no speech engine until a whisper model is installed.
const speech = await chooseSpeech({ enabled: true, engine: 'pocketsphinx', modelFile: undefined, env });
if (!ocr.engine || !speech.engine) throw new Error(`bench/index needs an OCR and a speech engine: ${ocr.reason}; ${speech.reason}`);

// The capture-like load, for the whole measurement.
const load = [
  spawn(
    'ffmpeg',
    [
      '-v',
      'error',
      '-re',
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=1280x720:rate=2',
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-tune',
      'stillimage,zerolatency',
      '-crf',
      '30',
      '-f',
      'null',
      '-',
    ],
    { stdio: 'ignore' },
  ),
  spawn('ffmpeg', ['-v', 'error', '-re', '-f', 'lavfi', '-i', 'sine=sample_rate=16000', '-c:a', 'libopus', '-b:a', '24k', '-f', 'null', '-'], {
    stdio: 'ignore',
  }),
];

const timings = { ocr: [], speech: [] };
// Each kind's segments are indexed one after another by its own worker: a kind's busy time is the gap since its previous commit.
const lastCommit = { ocr: 0, speech: 0 };
const indexer = new Indexer({
  store,
  sessionDir: () => sdir,
  tmpDir: home,
  ffmpeg: async () => 'ffmpeg',
  ocr,
  speech,
  ocrIntervalMs: 5000,
  duplicateThreshold: 3,
  silenceDb: -55,
  commit: (_s, events, progress) => {
    const now = performance.now();
    timings[progress.kind].push({ ms: now - lastCommit[progress.kind], events: events.length, detail: progress.detail });
    lastCommit[progress.kind] = now;
    store.transaction(() => store.recordIndexProgress(progress));
  },
  log: pino({ level: 'silent' }),
  idleMs: 50,
});
const t0 = performance.now();
lastCommit.ocr = lastCommit.speech = t0;
indexer.start();
while (indexer.status().ocr.pending_segments + indexer.status().speech.pending_segments > 0 || indexer.status().current)
  await new Promise((r) => setTimeout(r, 100));
const totalS = (performance.now() - t0) / 1000;
await indexer.stop();
for (const p of load) p.kill('SIGKILL');
store.close();

const sum = (xs) => xs.reduce((a, b) => a + b.ms, 0) / 1000;
const ocrS = sum(timings.ocr);
const speechS = sum(timings.speech);
const frames = minutes * 12;
console.log(
  `[${scenario} screen] indexing ${minutes} min of screen + ${minutes} min of speech on ${spawnSync('nproc').stdout.toString().trim()} cores with a capture-like load running (${ocr.engine.name}, ${speech.engine.name}):`,
);
console.log(
  `  OCR: ${frames} frames (one per 5 s; ${timings.ocr.map((t) => t.detail).join('; ')}) in ${ocrS.toFixed(1)} s = ${(frames / ocrS).toFixed(2)} frames/s, ${(ocrS / minutes).toFixed(1)} s per minute of screen`,
);
console.log(`  speech: ${minutes * 60} s of continuous speech in ${speechS.toFixed(1)} s = real-time factor ${(speechS / (minutes * 60)).toFixed(2)}`);
// Screen text and speech are indexed side by side: the wall time is what counts.
const hourMin = (60 * totalS) / minutes / 60;
console.log(
  `  a one-hour session (screen + mic, someone talking all the time): ${hourMin.toFixed(1)} min to index (goal <= 20 min); wall ${totalS.toFixed(1)} s for ${minutes} min`,
);
fs.rmSync(home, { recursive: true, force: true });
