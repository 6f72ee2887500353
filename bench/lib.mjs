// Small helpers shared by the benchmarks: percentiles and a temp daemon.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function percentiles(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
  return { n: s.length, p50: at(50), p90: at(90), p99: at(99), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

export function us(ns) {
  return `${(ns / 1000).toFixed(1)} µs`;
}

export function tempHome() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tb-'));
}

export async function startDaemon(home, extraEnv = {}) {
  const env = { ...process.env, TRACED_HOME: home, TRACED_LOG_LEVEL: 'warn', ...extraEnv };
  delete env.TRACED_SOCKET_DIR;
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'traced.js'), 'daemon'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const socket = path.join(home, 'run', 'traced.sock');
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((r) => {
      const s = net.connect({ path: socket });
      s.once('connect', () => {
        s.destroy();
        r(true);
      });
      s.once('error', () => r(false));
    });
    if (ok) return { child, socket, env };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('daemon did not start');
}
