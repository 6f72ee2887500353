// The CPU cost of the `window` channel on X11, per recorded minute, in one run: the channel as it
// runs (the focused window watched with xev), the same channel polling every second (xev hidden
// from PATH: what it did before), and the floor — the same process with no channel at all.
// Each case runs in its own child process for the same time on the same X server (an Xvfb with an
// xterm that has focus and retitles itself every 10 s, as a shell prompt does); CPU is the child's
// utime+stime plus its reaped helpers' (xdotool, xprop, xev) from /proc.
// Usage: npm run build && node bench/window-cost.mjs [seconds=60]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const seconds = Number(process.argv[2] ?? 60);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (process.argv[2] === '--case') {
  // ---- a child: one case, then its CPU (self + reaped children, in clock ticks) on stdout
  const mode = process.argv[3];
  const { WindowChannel } = await import('../dist/capture/window.js');
  const pino = (await import('pino')).default;
  let events = 0;
  const ch = new WindowChannel(1000);
  if (mode !== 'none') {
    await ch.start({
      sessionId: 'bench',
      project: os.tmpdir(),
      sessionDir: os.tmpdir(),
      startedAt: Date.now(),
      logger: pino({ level: 'silent' }),
      env: process.env,
      emit: () => events++,
      setHealth: () => undefined,
      registerSegment: () => undefined,
    });
  }
  await sleep(Number(process.argv[4]) * 1000);
  await ch.stop();
  await sleep(200);
  const f = fs.readFileSync('/proc/self/stat', 'utf8');
  const s = f.slice(f.lastIndexOf(')') + 2).split(' ');
  console.log(JSON.stringify({ ticks: Number(s[11]) + Number(s[12]) + Number(s[13]) + Number(s[14]), events }));
  process.exit(0);
}

// ---- the scene
for (const bin of ['Xvfb', 'xterm', 'xdotool', 'xprop', 'xev']) {
  if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) throw new Error(`bench/window-cost needs ${bin}`);
}
const n = 300 + Math.floor(Math.random() * 400);
const display = `:${n}`;
const xvfb = spawn('Xvfb', [display, '-screen', '0', '1280x720x24', '-nolisten', 'tcp'], { stdio: 'ignore' });
while (!fs.existsSync(`/tmp/.X11-unix/X${n}`)) await sleep(50);
const env = { ...process.env, DISPLAY: display };
const retitle = 'i=0; while :; do i=$((i+1)); printf "\\033]0;bench-%s\\007" "$i"; sleep 10; done';
const term = spawn('xterm', ['-title', 'bench-0', '-e', 'bash', '-c', retitle], {
  env,
  stdio: 'ignore',
});
let wid = '';
for (let i = 0; i < 100 && !wid; i++) {
  await sleep(100);
  wid = spawnSync('xdotool', ['search', '--name', '^bench-'], { env, encoding: 'utf8' }).stdout.trim().split('\n')[0] ?? '';
}
execFileSync('xdotool', ['windowfocus', '--sync', wid], { env });

// xev hidden from PATH: the channel polls, as it did before it watched.
const noXev = fs.mkdtempSync(path.join(os.tmpdir(), 'noxev-'));
for (const tool of ['xdotool', 'xprop', 'sh'])
  fs.symlinkSync(execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim(), path.join(noXev, tool));
const PATHS = { watch: process.env.PATH, poll: noXev, none: process.env.PATH };

async function runCase(mode) {
  const child = spawn(process.execPath, [new URL(import.meta.url).pathname, '--case', mode, String(seconds)], {
    env: { ...env, PATH: PATHS[mode] },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await new Promise((r) => child.once('exit', r));
  return JSON.parse(out.trim().split('\n').pop());
}

// Interleaved, twice each: the same machine conditions for every case.
const got = { none: [], poll: [], watch: [] };
for (let round = 0; round < 2; round++) for (const mode of ['none', 'poll', 'watch']) got[mode].push(await runCase(mode));
term.kill('SIGKILL');
xvfb.kill('SIGKILL');
fs.rmSync(noXev, { recursive: true, force: true });

const perMin = (runs) => (runs.reduce((a, r) => a + r.ticks, 0) / runs.length / 100 / seconds) * 60;
const floor = perMin(got.none);
const poll = perMin(got.poll) - floor;
const watch = perMin(got.watch) - floor;
console.log(`window channel CPU, ${seconds} s per case x 2, load ${os.loadavg()[0].toFixed(1)} on ${os.availableParallelism()} cores`);
console.log(`  floor (same process, no channel): ${floor.toFixed(3)} s per minute`);
console.log(`  polling every 1 s               : +${poll.toFixed(3)} s per minute (${got.poll.map((r) => r.events).join('/')} focus events)`);
console.log(`  watching with xev               : +${watch.toFixed(3)} s per minute (${got.watch.map((r) => r.events).join('/')} focus events)`);
console.log(`RATIO window watch/poll = ${(watch / poll).toFixed(2)}x (goal <= 0.2x: ${watch / poll <= 0.2 ? 'MET' : 'NOT MET'})`);
