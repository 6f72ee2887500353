/** Is anything listening on the daemon's socket? Light enough for the CLI and doctor. */
import fs from 'node:fs';
import net from 'node:net';

/** True when something accepts connections on the socket within `timeoutMs`. */
export function probeSocket(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ path: socketPath });
    const t = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}

/** True while a process with this pid exists (EPERM: it exists, owned by someone else). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** On Linux, tells whether a pid is a traced daemon; elsewhere undefined (unknown). */
export function looksLikeTraced(pid: number): boolean | undefined {
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.includes('traced') && cmd.includes('daemon');
  } catch {
    return undefined;
  }
}
