// The CPU cost of recording as users run it, in one run on one scene:
//   1. the two bare ffmpeg commands traced runs (screen x11grab → x264 segments, mic pulse → opus segments),
//   2. traced recording only (a real daemon, indexing disabled in its config),
//   3. traced recording with live indexing (a real daemon, default config: tesseract, and whisper.cpp when a
//      model is installed — with none, speech waits for one: pocketsphinx is opt-in),
//   4. with --pocketsphinx: case 3 with index.speech.engine = "pocketsphinx" (the opt-in), printed beside it,
// each for the same number of recorded minutes, CPU summed over the whole process tree from /proc
// (utime+stime of the process, of its reaped children — ffmpeg, tesseract, pocketsphinx, xdotool — and of
// the live ones). Case 3 counts until the indexer has caught up after stop: all the work of those minutes.
// Also prints the indexer's own per-stage CPU (status.indexer.cost) per recorded minute, the audio decode
// share measured again on the recorded mic segments, and the indexing latency after stop.
//
// The scene (as bench/capture.mjs and test/helpers/rig.ts): Xvfb 1280x720, an xterm printing `date` and
// 40 lines of `ls -la /usr/lib` every 2 s, a PulseAudio null sink as the mic with espeak-ng speech every 10 s.
// Usage: npm run build && node bench/record-cost.mjs [minutes=2] [--pocketsphinx]
// Needs Xvfb, xterm, xdotool, pulseaudio (+ pactl, pacat, paplay), espeak-ng, ffmpeg, tesseract, pocketsphinx_continuous.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IpcClient } from '../dist/ipc/client.js';
import { startDaemon, tempHome } from './lib.mjs';

const withPs = process.argv.includes('--pocketsphinx');
const minutes = Number(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 2);
const recordMs = minutes * 60_000;
const TICK = 100; // clock ticks per second on Linux
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// The steady state leaves out each case's first 20 s (process start-up, session start) and its stop.
const WARM_MS = 20_000;
if (recordMs <= WARM_MS * 2) throw new Error('record at least one minute');

for (const bin of ['Xvfb', 'xterm', 'xdotool', 'pulseaudio', 'pactl', 'pacat', 'paplay', 'espeak-ng', 'ffmpeg', 'tesseract', 'pocketsphinx_continuous']) {
  if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) throw new Error(`bench/record-cost needs ${bin}`);
}

// ---- the scene
const procs = [];
const n = 500 + Math.floor(Math.random() * 400);
const display = `:${n}`;
procs.push(spawn('Xvfb', [display, '-screen', '0', '1280x720x24', '-nolisten', 'tcp'], { stdio: 'ignore' }));
while (!fs.existsSync(`/tmp/.X11-unix/X${n}`)) await sleep(50);
const runtime = fs.mkdtempSync(path.join(os.tmpdir(), 'bpulse-'));
const env = { ...process.env, DISPLAY: display, PULSE_RUNTIME_PATH: runtime, PULSE_STATE_PATH: runtime, PULSE_SERVER: `unix:${runtime}/native` };
execFileSync(
  'pulseaudio',
  ['-D', '--exit-idle-time=-1', '--system=false', '--disallow-exit', '-n', '--load=module-native-protocol-unix', '--load=module-null-sink sink_name=v'],
  { env, stdio: 'ignore' },
);
for (let i = 0; i < 100 && spawnSync('pactl', ['info'], { env }).status !== 0; i++) await sleep(100);
execFileSync('pactl', ['set-default-source', 'v.monitor'], { env });
procs.push(spawn('pacat', ['--playback', '-d', 'v', '--latency-msec=50', '/dev/zero'], { env, stdio: 'ignore' }));
procs.push(
  spawn('xterm', ['-geometry', '160x45+0+0', '-e', 'bash -c "while :; do date; ls -la /usr/lib | head -40; sleep 2; done"'], { env, stdio: 'ignore' }),
);
const wav = path.join(runtime, 'say.wav');
execFileSync('espeak-ng', ['-w', wav, 'the cache invalidation test is failing again, let me look at the store']);
const speaker = setInterval(() => spawn('paplay', ['-d', 'v', wav], { env, stdio: 'ignore' }), 10_000);
await sleep(1500);

// ---- CPU accounting from /proc
function stat(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { self: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
  } catch {
    return undefined;
  }
}
function childrenOf(pid) {
  const r = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  return r.stdout.trim().split('\n').filter(Boolean).map(Number);
}
/** CPU seconds of a process tree: the process, its reaped children, and its live children's trees. */
function treeS(pid) {
  const s = stat(pid);
  if (!s) return 0;
  return (s.self + s.children) / TICK + childrenOf(pid).reduce((a, c) => a + treeS(c), 0);
}
const exited = (p) => (p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', r)));

// ---- 1. bare ffmpeg: the two commands traced runs (src/capture/segments.ts), same segment length
const bareDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bbare-'));
const seg = (fmt, opts, name) => [
  '-f',
  'segment',
  '-segment_time',
  '60',
  '-reset_timestamps',
  '1',
  '-segment_format',
  fmt,
  '-segment_format_options',
  opts,
  '-segment_list',
  path.join(bareDir, `${name}.csv`),
  path.join(bareDir, `${name}_%05d.${fmt === 'ogg' ? 'ogg' : 'mkv'}`),
];
const screenArgs = [
  ...['-nostdin', '-loglevel', 'info', '-nostats', '-f', 'x11grab', '-framerate', '2', '-video_size', '1280x720', '-i', display],
  ...['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'stillimage,zerolatency', '-crf', '30', '-pix_fmt', 'yuv420p', '-g', '240'],
  ...['-force_key_frames', 'expr:gte(t,n_forced*60)'],
  ...seg('matroska', 'flush_packets=1:cluster_time_limit=1000', 'screen'),
];
const micArgs = [
  ...['-nostdin', '-loglevel', 'info', '-nostats', '-f', 'pulse', '-sample_rate', '16000', '-channels', '1', '-fragment_size', '3200', '-i', 'v.monitor'],
  ...['-af', 'aresample=async=1', '-c:a', 'libopus', '-b:a', '24k', '-application', 'voip'],
  ...seg('ogg', 'flush_packets=1:page_duration=200000', 'mic'),
];
const screen = spawn('ffmpeg', screenArgs, { env, stdio: 'ignore' });
const mic = spawn('ffmpeg', micArgs, { env, stdio: 'ignore' });
const bareStart = Date.now();
await sleep(WARM_MS);
const bareWarm = { cpuS: treeS(screen.pid) + treeS(mic.pid), at: Date.now() };
await sleep(recordMs - WARM_MS);
// Read while they run (after exit their time is in this process's reaped children, mixed with paplay's).
const bareCpu = treeS(screen.pid) + treeS(mic.pid);
const bare = {
  cpuS: bareCpu,
  wallS: (Date.now() - bareStart) / 1000,
  steady: { cpuS: bareCpu - bareWarm.cpuS, wallS: (Date.now() - bareWarm.at) / 1000 },
};
for (const p of [screen, mic]) p.kill('SIGINT');
await Promise.all([screen, mic].map(exited));

// ---- 2 and 3. traced, as a real daemon
async function traced(index, speech) {
  const home = tempHome();
  if (!index) fs.writeFileSync(path.join(home, 'config.json'), JSON.stringify({ index: { ocr: { enabled: false }, speech: { enabled: false } } }));
  else if (speech) fs.writeFileSync(path.join(home, 'config.json'), JSON.stringify({ index: { speech: { engine: speech } } }));
  const d = await startDaemon(home, { DISPLAY: display, PULSE_SERVER: env.PULSE_SERVER, PULSE_RUNTIME_PATH: runtime });
  const client = await IpcClient.connect(d.socket);
  await sleep(2000); // the daemon's start-up is not recording cost
  const t0 = treeS(d.child.pid);
  const started = await client.call('start_session', {
    project: os.tmpdir(),
    channels: [
      { id: 'display:1', store: true },
      { id: 'mic:default', store: true },
    ],
  });
  const sessionDir = path.join(home, 'sessions', started.session.id);
  const begin = Date.now();
  let behindAtStop;
  await sleep(WARM_MS);
  const warm = { cpuS: treeS(d.child.pid), at: Date.now() };
  await sleep(recordMs - WARM_MS);
  const steady = { cpuS: treeS(d.child.pid) - warm.cpuS, wallS: (Date.now() - warm.at) / 1000 };
  if (index) behindAtStop = (await client.call('status')).indexer;
  await client.call('stop_session', {});
  const stopped = Date.now();
  let ix;
  for (;;) {
    const st = await client.call('status');
    ix = st.indexer;
    if (!index || (ix.ocr.pending_segments === 0 && ix.speech.pending_segments === 0 && ix.current === null)) break;
    if (Date.now() - stopped > 15 * 60_000) throw new Error('the indexer did not catch up in 15 min');
    await sleep(250);
  }
  const latencyS = (Date.now() - stopped) / 1000;
  await sleep(300);
  const cpuS = treeS(d.child.pid) - t0;
  const recordedS = (stopped - begin) / 1000;
  // Audio decode measured again, alone, on the recorded mic segments (the indexer's decode command).
  let audioS = 0;
  if (index) {
    const before = stat(process.pid).children;
    for (const f of fs.readdirSync(path.join(sessionDir, 'mic-default')).filter((x) => x.endsWith('.ogg'))) {
      spawnSync('nice', [
        '-n',
        '15',
        'ffmpeg',
        '-nostdin',
        '-hide_banner',
        '-nostats',
        '-y',
        '-i',
        path.join(sessionDir, 'mic-default', f),
        '-af',
        'volumedetect',
        '-ar',
        '16000',
        '-ac',
        '1',
        '-c:a',
        'pcm_s16le',
        path.join(home, 'a.wav'),
      ]);
    }
    audioS = (stat(process.pid).children - before) / TICK;
  }
  client.close();
  d.child.kill('SIGTERM');
  await exited(d.child);
  fs.rmSync(home, { recursive: true, force: true });
  return { cpuS, recordedS, latencyS, ix, behindAtStop, audioS, steady };
}
const capture = await traced(false);
const full = await traced(true);
const ps = withPs ? await traced(true, 'pocketsphinx') : undefined;

clearInterval(speaker);
for (const p of procs) p.kill('SIGKILL');
spawnSync('pulseaudio', ['--kill'], { env });
fs.rmSync(bareDir, { recursive: true, force: true });

// ---- report
const perMin = (s, recS) => (s / recS) * 60;
const pct = (s, recS) => ((100 * s) / recS).toFixed(1);
const goal = (x, g) => `${x.toFixed(2)}x (goal <= ${g}x: ${x <= g ? 'MET' : 'NOT MET'})`;
console.log(
  `recording cost, ${minutes} min recorded per case; display 1280x720 @ 2 fps + mic 16 kHz opus; 60 s segments; load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} on ${os.availableParallelism()} cores`,
);
console.log(`  bare ffmpeg x2        : ${bare.cpuS.toFixed(2)} s CPU over ${bare.wallS.toFixed(0)} s (${pct(bare.cpuS, bare.wallS)}% of one core)`);
console.log(`  traced capture only   : ${capture.cpuS.toFixed(2)} s CPU over ${capture.recordedS.toFixed(0)} s (${pct(capture.cpuS, capture.recordedS)}%)`);
function indexed(label, run) {
  console.log(
    `  traced ${label}: ${run.cpuS.toFixed(2)} s CPU over ${run.recordedS.toFixed(0)} s recorded, until caught up (${pct(run.cpuS, run.recordedS)}%); speech engine: ${run.ix.speech.engine ?? `none (${run.ix.speech.reason.slice(0, 60)}…)`}`,
  );
  const c = run.ix.cost;
  if (c) {
    const recMin = run.recordedS / 60;
    const parts = Object.entries(c.cpu_ms).map(([k, ms]) => `${k} ${(ms / 1000 / recMin).toFixed(2)}`);
    console.log(`    indexing CPU s per recorded minute, by stage (status.indexer.cost): ${parts.join(', ')}`);
    console.log(
      `    of speech: audio decode ${(run.audioS / recMin).toFixed(2)} (measured again alone); indexed media: ocr ${(c.media_ms.ocr / 1000).toFixed(0)} s, speech ${(c.media_ms.speech / 1000).toFixed(0)} s`,
    );
    const sum = Object.values(c.cpu_ms).reduce((a, b) => a + b, 0) / 1000;
    console.log(`    stages sum ${sum.toFixed(2)} s; tree difference (this − capture only) ${(run.cpuS - capture.cpuS).toFixed(2)} s`);
  }
  console.log(
    `    behind at stop: ocr ${run.behindAtStop?.ocr.pending_segments} segments / ${run.behindAtStop?.ocr.behind_ms} ms, speech ${run.behindAtStop?.speech.pending_segments} / ${run.behindAtStop?.speech.behind_ms} ms; caught up ${run.latencyS.toFixed(1)} s after stop`,
  );
}
indexed('capture + index', full);
if (ps) indexed('capture + index + pocketsphinx (opt-in)', ps);
const perMinBare = perMin(bare.cpuS, bare.wallS);
const steadyBare = perMin(bare.steady.cpuS, bare.steady.wallS);
const steadyCapture = perMin(capture.steady.cpuS, capture.steady.wallS);
const oneTime = capture.cpuS - (steadyCapture / 60) * capture.recordedS;
console.log(
  `  steady state (after the first ${WARM_MS / 1000} s, before stop): bare ${steadyBare.toFixed(2)} s/min, capture only ${steadyCapture.toFixed(2)} s/min; ` +
    `capture only's start-up and stop beyond its steady rate: ${oneTime.toFixed(2)} s per session`,
);
console.log(`RATIO capture/bare = ${goal(perMin(capture.cpuS, capture.recordedS) / perMinBare, 1.15)} (whole sessions, start-up included)`);
console.log(`RATIO capture/bare steady = ${goal(steadyCapture / steadyBare, 1.15)} (a recorded minute, start-up left out of both)`);
console.log(
  `RATIO capture+index/bare = ${goal(perMin(full.cpuS, full.recordedS) / perMinBare, 2)} (default engines; speech: ${full.ix.speech.engine ?? 'none installed'})`,
);
if (ps) console.log(`RATIO capture+index+pocketsphinx/bare = ${goal(perMin(ps.cpuS, ps.recordedS) / perMinBare, 2)} (pocketsphinx opted in)`);
