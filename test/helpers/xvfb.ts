/**
 * A private Xvfb on a display number the X server picks itself (`-displayfd`):
 * tests run in parallel, and two that each picked a random number could meet on
 * one server (a 640x480 test then saw another's 1280x720 screen).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';

export interface Xvfb {
  /** `:N` */
  display: string;
  n: number;
  proc: ChildProcess;
  stop(): void;
}

export function startXvfb(geometry = '1280x720x24', timeoutMs = 20_000): Promise<Xvfb> {
  const proc = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', geometry, '-nolisten', 'tcp'], { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
  const fd = proc.stdio[3] as Readable;
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`Xvfb did not say its display within ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      proc.kill('SIGKILL');
      reject(err);
    };
    proc.once('error', fail);
    proc.once('exit', (code) => fail(new Error(`Xvfb exited (${code}) before it said its display`)));
    fd.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^(\d+)\n/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      proc.removeAllListeners('exit');
      const n = Number(m[1]);
      resolve({ display: `:${n}`, n, proc, stop: () => proc.kill('SIGKILL') });
    });
  });
}
