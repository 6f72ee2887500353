// CPU cost of recording a terminal: a program printing 10 MB/s for 10 s in a
// PTY, bare and under `traced shell` (with a session recording, every byte
// kept: the cap is raised past 100 MB), in the same run. CPU is the printer
// plus, under traced, the `traced shell` process (via the outer bash's
// `times`) and the daemon's own CPU while it indexes the output (/proc).
// The bench process plays the outer terminal in both runs and is not counted.
// Usage: npm run build && node bench/shell.mjs [MB/s] [seconds]
import fs from 'node:fs';
import path from 'node:path';
import pty from '@lydell/node-pty';
import { IpcClient } from '../dist/ipc/client.js';
import { ROOT, startDaemon, tempHome } from './lib.mjs';

const rate = Number(process.argv[2] ?? 10) * 1024 * 1024;
const seconds = Number(process.argv[3] ?? 10);
const home = tempHome();
fs.writeFileSync(path.join(home, 'config.json'), JSON.stringify({ session: { terminalOutputMaxMb: 4000 } }));
const printer = path.join(home, 'printer.mjs');
fs.writeFileSync(
  printer,
  `const rate = ${rate}, until = Date.now() + ${seconds * 1000}, t0 = Date.now();
const words = ['build', 'error', 'cache', 'test', 'passed', 'src/app/index.ts:42:7', 'warning', 'TS2345', 'ok'];
let sent = 0, n = 0;
const line = () => \`\${n++} \${words[n % 9]} \${words[(n * 7) % 9]} the quick brown fox jumps over \${words[(n * 5) % 9]} lazy dog\\n\`;
function tick() {
  const want = Math.min(rate * ((Date.now() - t0) / 1000), rate * ${seconds}) - sent;
  let s = '';
  while (s.length < want) s += line();
  sent += s.length;
  const more = Date.now() < until;
  if (s) process.stdout.write(s, () => (more ? setTimeout(tick, 5) : undefined));
  else if (more) setTimeout(tick, 5);
}
tick();
`,
);

const ticks = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 1/100 s
};

/** Runs `inner` (a shell command) in a PTY under `bash -c '…; times'`; returns the CPU seconds of its children. */
function run(inner, env) {
  return new Promise((resolve) => {
    const t = pty.spawn('bash', ['-c', `${inner}; times`], { cols: 120, rows: 40, env, cwd: home });
    let tail = '';
    let bytes = 0;
    t.onData((d) => {
      bytes += d.length;
      tail = (tail + d).slice(-400);
    });
    t.onExit(() => {
      const lines = tail.trim().split(/\r?\n/);
      const m = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s/.exec(lines[lines.length - 1] ?? '');
      resolve({ cpu: m ? Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]) : Number.NaN, bytes });
    });
  });
}

const daemon = await startDaemon(home);
const env = { ...daemon.env, TERM: 'xterm-256color' };
delete env.TRACED_SHELL;
const client = await IpcClient.connect(daemon.socket);
await client.call('start_session', { project: home, channels: [] });
const node = process.execPath;
const bare = await run(`${node} ${printer}`, env);
const d0 = ticks(daemon.child.pid);
const traced = await run(`${node} ${path.join(ROOT, 'bin', 'traced.js')} shell -- ${node} ${printer}`, env);
// The daemon indexes behind the shell: count its CPU until it is idle again.
let d1 = ticks(daemon.child.pid);
for (let still = 0; still < 3; ) {
  await new Promise((r) => setTimeout(r, 1000));
  const d = ticks(daemon.child.pid);
  still = d - d1 < 0.02 ? still + 1 : 0;
  d1 = d;
}
const daemonCpu = d1 - d0;
const kept = fs
  .readdirSync(path.join(home, 'sessions'))
  .flatMap((s) =>
    fs.existsSync(path.join(home, 'sessions', s, 'terminal'))
      ? fs.readdirSync(path.join(home, 'sessions', s, 'terminal')).map((f) => path.join(home, 'sessions', s, 'terminal', f))
      : [],
  )
  .reduce((n, f) => n + fs.statSync(f).size, 0);
await client.call('stop_session', {});
client.close();
daemon.child.kill('SIGTERM');
const mb = (rate * seconds) / 1024 / 1024;
console.log(
  `shell printing ${(rate / 1024 / 1024).toFixed(0)} MB/s for ${seconds} s (${mb.toFixed(0)} MB): bare ${bare.cpu.toFixed(2)} s CPU; traced shell ${traced.cpu.toFixed(2)} s + daemon ${daemonCpu.toFixed(2)} s = ${(traced.cpu + daemonCpu).toFixed(2)} s (cast kept ${(kept / 1024 / 1024).toFixed(0)} MB); ratio ${((traced.cpu + daemonCpu) / bare.cpu).toFixed(2)}x (shell side alone ${(traced.cpu / bare.cpu).toFixed(2)}x)`,
);
fs.rmSync(home, { recursive: true, force: true });
process.exit(0);
