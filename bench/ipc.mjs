// IPC round trip through the daemon's socket (node-ipc, guarded parser) next to
// a bare `net` echo server and a bare node-ipc server, each in its own process,
// same machine, same run. Blocks of calls are interleaved so every contender
// sees the same CPU conditions (two cores: scheduling noise is large).
//
// On a 2-core VM a round trip costs ~25 µs when the server runs on the caller's
// core and ~65 µs when it is woken on the other one (an idle vCPU's wake-up),
// whichever server it is, and the scheduler picks per process and per run. So
// the bench pins every process (taskset, Linux) and measures each placement:
// `same core` (caller and servers on CPU 0) and `cross core` (caller on CPU 0,
// servers on CPU 1), then `as scheduled` (no pinning) for reference. The RATIO
// lines compare traced with the echo under the same placement.
// Usage: npm run build && node bench/ipc.mjs [rounds]
import { execFileSync, spawn } from 'node:child_process';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { IpcClient } from '../dist/ipc/client.js';
import { ROOT, percentiles, startDaemon, tempHome, us } from './lib.mjs';

const rounds = Number(process.argv[2] ?? 6000);
const block = 200;
const warmup = 500;

async function serverProc(code, _socket) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'], cwd: ROOT });
  await new Promise((r) => child.stdout.once('data', r));
  return child;
}

/** A raw `net` client that sends one frame and waits for one 0x0C-terminated reply. */
async function rawCaller(socket, method = 'ping') {
  const s = net.connect({ path: socket });
  s.setNoDelay(true);
  s.setEncoding('utf8');
  await new Promise((r) => s.once('connect', r));
  let pending;
  let buf = '';
  s.on('data', (d) => {
    buf += d;
    if (buf.endsWith('\f')) {
      buf = '';
      pending();
    }
  });
  const frame = `${JSON.stringify({ type: 'req', data: { id: 1, method, params: {} } })}\f`;
  return {
    call: () =>
      new Promise((r) => {
        pending = r;
        s.write(frame);
      }),
    close: () => s.destroy(),
  };
}

async function ipcCaller(socket, method) {
  const c = await IpcClient.connect(socket);
  return { call: () => c.call(method, {}), close: () => c.close() };
}

const home = tempHome();
const d = await startDaemon(home);
const echoSock = path.join(home, 'echo.sock');
const floorSock = path.join(home, 'floor.sock');
const echo = await serverProc(
  `import net from 'node:net'; net.createServer((s) => s.pipe(s)).listen(${JSON.stringify(echoSock)}, () => console.log('up'));`,
  echoSock,
);
// node-ipc itself, guarded parser, a handler that only replies: the floor under any node-ipc server.
const floor = await serverProc(
  `
  import { IPCModule } from 'node-ipc';
  const ipc = new IPCModule(); ipc.config.silent = true; ipc.config.parser = 'guarded';
  ipc.serve(${JSON.stringify(floorSock)}, () => ipc.server.on('req', (d, s) => ipc.server.emit(s, 'res', { id: d.id, result: { pong: true } })));
  ipc.server.on('start', () => console.log('up'));
  ipc.server.start();`,
  floorSock,
);

const contenders0 = [
  ['bare net echo (baseline)', await rawCaller(echoSock)],
  ['node-ipc guarded, no app', await ipcCaller(floorSock, 'ping')],
  ['traced ping', await ipcCaller(d.socket, 'ping')],
  ['raw client -> traced ping', await rawCaller(d.socket, 'ping')],
  ['traced status (operation)', await ipcCaller(d.socket, 'status')],
];
const contenders = contenders0;
const servers = [echo.pid, floor.pid, d.child.pid];

/** Pins every thread of a process to one CPU; false where taskset is missing (not Linux). */
function pin(pid, cpu) {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
/** Pins every listed process; false when any pin failed (the placement would be mislabelled). */
function pinAll(pids, cpu) {
  return pids.map((p) => pin(p, cpu)).every(Boolean);
}
/** The CPUs this process may run on, as taskset reports them ("0-3,6"), and that list expanded. */
function allowedCpus() {
  try {
    const list = execFileSync('taskset', ['-c', '-p', String(process.pid)], { encoding: 'utf8' })
      .split(':')
      .pop()
      .trim();
    const ids = list.split(',').flatMap((r) => {
      const [a, b] = r.split('-').map(Number);
      return b === undefined ? [a] : Array.from({ length: b - a + 1 }, (_, i) => a + i);
    });
    return { list, ids };
  } catch {
    return undefined;
  }
}
const allowed = allowedCpus();
const cpus = os.availableParallelism();
const placements = [];
if (allowed && allowed.ids.length > 0 && pin(process.pid, allowed.ids[0])) {
  const [a, b] = allowed.ids;
  placements.push(['same core', () => pinAll(servers, a)]);
  if (b !== undefined) placements.push(['cross core', () => pinAll(servers, b)]);
} else console.log('taskset unavailable: measuring as scheduled only');
placements.push(['as scheduled', () => (allowed ? pinAll([process.pid, ...servers], allowed.list) : true)]);

async function measure() {
  const samples = contenders.map(() => []);
  for (const [, c] of contenders) for (let i = 0; i < warmup; i++) await c.call();
  for (let done = 0; done < rounds; done += block) {
    for (let k = 0; k < contenders.length; k++) {
      const c = contenders[k][1];
      for (let i = 0; i < block; i++) {
        const t0 = process.hrtime.bigint();
        await c.call();
        samples[k].push(Number(process.hrtime.bigint() - t0));
      }
    }
  }
  return samples.map(percentiles);
}

const results = [];
for (const [name, place] of placements) {
  if (!place()) {
    console.log(`${name}: a process could not be pinned; this placement is left out`);
    continue;
  }
  results.push([name, await measure()]);
}
for (const [, c] of contenders) c.close();
echo.kill();
floor.kill();
d.child.kill('SIGTERM');

console.log(`IPC round trip: ${rounds} sequential calls each, interleaved in blocks of ${block}, Node ${process.versions.node}, ${cpus} CPUs`);
for (const [placement, res] of results) {
  console.log(`-- ${placement}`);
  for (const [k, [name]] of contenders.entries())
    console.log(`${name.padEnd(28)} p50 ${us(res[k].p50).padStart(10)}  p99 ${us(res[k].p99).padStart(10)}  mean ${us(res[k].mean).padStart(10)}`);
  const [e, f, p, raw] = res;
  console.log(`traced ping / node-ipc floor p50: ${(p.p50 / f.p50).toFixed(2)}x   (what traced adds on top of node-ipc)`);
  console.log(`raw client -> traced ping / bare echo p50: ${(raw.p50 / e.p50).toFixed(2)}x   (the daemon's side alone, as a Lua/Python extension sees it)`);
}
for (const [placement, res] of results) {
  const [e, , p, , st] = res;
  const r = p.p50 / e.p50;
  const rs = st.p50 / e.p50;
  const judged = placement !== 'as scheduled' || results.length === 1;
  const verdict = judged ? `goal <= 2x: ${r <= 2 ? 'MET' : 'NOT MET'}` : 'for reference: placement differs per process';
  console.log(`RATIO ipc ping/bare-echo p50 (${placement}) = ${r.toFixed(2)}x (${verdict}; ${us(p.p50)} vs ${us(e.p50)})`);
  console.log(`RATIO ipc status/bare-echo p50 (${placement}) = ${rs.toFixed(2)}x (an operation: validation, dispatch, a read; ${us(st.p50)} vs ${us(e.p50)})`);
}
