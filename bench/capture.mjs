// Screen + mic recording cost: traced (daemon + its ffmpeg children) next to
// the bare ffmpeg commands from ../shared/reference/capture.md, same scene,
// same run. Measures CPU over a steady window (after a warm-up), bytes per
// hour of the files written, and the daemon's peak RSS.
// Usage: npm run build && node bench/capture.mjs [windowSeconds=60]
// Needs Xvfb, xterm, pulseaudio (+ pactl, pacat, paplay), espeak-ng, ffmpeg.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IpcClient } from '../dist/ipc/client.js';
import { startDaemon, tempHome } from './lib.mjs';

const windowS = Number(process.argv[2] ?? 60);
const warmupS = 5;
const TICK = 100; // clock ticks per second on Linux
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

for (const bin of ['Xvfb', 'xterm', 'pulseaudio', 'pactl', 'pacat', 'paplay', 'espeak-ng', 'ffmpeg']) {
  if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) throw new Error(`bench/capture needs ${bin}`);
}

// ---- the scene: 1280x720 Xvfb, an xterm printing a screenful every 2 s, a mic that hears speech every 10 s
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
    // fields after the comm: state=0 … utime=11 stime=12 cutime=13 cstime=14
    return { self: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
  } catch {
    return undefined;
  }
}
function childrenOf(pid) {
  const r = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  return r.stdout.trim().split('\n').filter(Boolean).map(Number);
}
/** CPU ticks of a process tree: the process, its exited (waited-for) children, and its live children. */
function treeTicks(pid) {
  const s = stat(pid);
  if (!s) return 0;
  return s.self + s.children + childrenOf(pid).reduce((a, c) => a + treeTicks(c), 0);
}
function rssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}
function dirBytes(dir, re) {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && re.test(e.name)) total += fs.statSync(path.join(e.parentPath ?? e.path, e.name)).size;
  }
  return total;
}
/** Runs `measure` over the window after the warm-up; returns CPU seconds in the window and bytes written in it. */
async function window(ticks, bytes, onSecond = () => {}) {
  await sleep(warmupS * 1000);
  const t0 = ticks();
  const b0 = bytes();
  const start = Date.now();
  for (let i = 0; i < windowS; i++) {
    await sleep(1000);
    onSecond();
  }
  const wallS = (Date.now() - start) / 1000;
  return { cpuS: (ticks() - t0) / TICK, bytes: bytes() - b0, wallS };
}

// ---- 1. bare ffmpeg commands (the reference pipeline)
const bareDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bbare-'));
const screen = spawn(
  'ffmpeg',
  [
    '-nostdin',
    '-loglevel',
    'info',
    '-nostats',
    '-f',
    'x11grab',
    '-framerate',
    '2',
    '-video_size',
    '1280x720',
    '-i',
    display,
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-tune',
    'stillimage,zerolatency',
    '-crf',
    '30',
    '-pix_fmt',
    'yuv420p',
    '-g',
    '120',
    '-force_key_frames',
    'expr:gte(t,n_forced*60)',
    '-f',
    'segment',
    '-segment_time',
    '60',
    '-reset_timestamps',
    '1',
    '-segment_format',
    'matroska',
    '-segment_format_options',
    'flush_packets=1:cluster_time_limit=1000',
    '-segment_list',
    path.join(bareDir, 'screen.csv'),
    path.join(bareDir, 'screen_%05d.mkv'),
  ],
  { env, stdio: 'ignore' },
);
const mic = spawn(
  'ffmpeg',
  [
    '-nostdin',
    '-loglevel',
    'info',
    '-nostats',
    '-f',
    'pulse',
    '-sample_rate',
    '16000',
    '-channels',
    '1',
    '-fragment_size',
    '3200',
    '-i',
    'v.monitor',
    '-af',
    'aresample=async=1',
    '-c:a',
    'libopus',
    '-b:a',
    '24k',
    '-application',
    'voip',
    '-f',
    'segment',
    '-segment_time',
    '60',
    '-reset_timestamps',
    '1',
    '-segment_format',
    'ogg',
    '-segment_format_options',
    'flush_packets=1:page_duration=200000',
    '-segment_list',
    path.join(bareDir, 'mic.csv'),
    path.join(bareDir, 'mic_%05d.ogg'),
  ],
  { env, stdio: 'ignore' },
);
const bare = await window(
  () => treeTicks(screen.pid) + treeTicks(mic.pid),
  () => dirBytes(bareDir, /\.(mkv|ogg)$/),
);
const bareRss = rssMb(screen.pid) + rssMb(mic.pid);
for (const p of [screen, mic]) p.kill('SIGINT');
await Promise.all([screen, mic].map((p) => new Promise((r) => p.once('exit', r))));

// ---- 2. traced: daemon + session with display:1 and mic:default (defaults: 60 s segments, 2 fps)
const home = tempHome();
const d = await startDaemon(home, { DISPLAY: display, PULSE_SERVER: env.PULSE_SERVER, PULSE_RUNTIME_PATH: runtime });
const client = await IpcClient.connect(d.socket);
const started = await client.call('start_session', {
  project: os.tmpdir(),
  channels: [
    { id: 'display:1', store: true },
    { id: 'mic:default', store: true },
  ],
});
const sessionDir = path.join(home, 'sessions', started.session.id);
let peakRss = 0;
const traced = await window(
  () => treeTicks(d.child.pid),
  () => dirBytes(sessionDir, /\.(mkv|ogg)$/),
  () => {
    peakRss = Math.max(peakRss, rssMb(d.child.pid));
  },
);
const kidsRss = childrenOf(d.child.pid).reduce((a, c) => a + rssMb(c), 0);
const daemonOnly = (() => {
  const s = stat(d.child.pid);
  return s ? s.self / TICK : 0;
})();
const status = await client.call('status');
await client.call('stop_session', {});
client.close();
d.child.kill('SIGTERM');
await new Promise((r) => d.child.once('exit', r));

clearInterval(speaker);
for (const p of procs) p.kill('SIGKILL');
spawnSync('pulseaudio', ['--kill'], { env });

// ---- report
const mbPerHour = (r) => ((r.bytes / r.wallS) * 3600) / 1e6;
const pct = (r) => (100 * r.cpuS) / r.wallS;
console.log(`capture cost, ${windowS} s window after ${warmupS} s warm-up; display 1280x720 @ 2 fps + mic (16 kHz opus 24k); 60 s segments`);
console.log(
  `  bare ffmpeg x2 : CPU ${bare.cpuS.toFixed(2)} s (${pct(bare).toFixed(1)}% of one core)  ${mbPerHour(bare).toFixed(1)} MB/h  ffmpeg RSS ${bareRss.toFixed(0)} MB`,
);
console.log(
  `  traced         : CPU ${traced.cpuS.toFixed(2)} s (${pct(traced).toFixed(1)}% of one core)  ${mbPerHour(traced).toFixed(1)} MB/h  daemon RSS peak ${peakRss.toFixed(0)} MB, ffmpeg children RSS ${kidsRss.toFixed(0)} MB`,
);
console.log(
  `  daemon process alone since start: ${daemonOnly.toFixed(2)} s CPU; channels at the end: ${status.session.channels.map((c) => `${c.id}=${c.state}`).join(', ')}`,
);
console.log(
  `  ratio traced/bare CPU: ${(traced.cpuS / bare.cpuS).toFixed(2)}x (goal <= 1.15x)  MB/h: ${mbPerHour(traced).toFixed(1)} (goal <= 40)  daemon RSS: ${peakRss.toFixed(0)} MB (goal <= 120)`,
);
fs.rmSync(bareDir, { recursive: true, force: true });
fs.rmSync(home, { recursive: true, force: true });
