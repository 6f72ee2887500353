/** Is anything listening on the daemon's socket? Light enough for the CLI and doctor. */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

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

/** The script a traced daemon runs: the published entry, or the compiled CLI when started directly. */
const ENTRY = /(?:^|\/)(?:bin\/traced\.js|dist\/cli\/main\.js)$/;

/**
 * Whether a command line (argv as the kernel keeps it) is a traced daemon's:
 * a Node binary, its own flags, then the traced entry script and `daemon` as
 * the first argument. `resolve` turns a script path into its real path (an
 * `npm install -g` shim `/usr/bin/traced` is a link to bin/traced.js).
 */
export function isDaemonArgv(argv: string[], resolve: (p: string) => string | undefined = () => undefined): boolean {
  const [exe, ...rest] = argv;
  if (!exe || !/^node(?:js)?[\d.]*(?:\.exe)?$/i.test(exe.split(/[\\/]/).pop() ?? '')) return false;
  let i = 0;
  // Node's own flags come before the script; a flag taking a separate value makes this fail, on the safe side.
  while (i < rest.length && rest[i]?.startsWith('-')) i++;
  const script = rest[i];
  if (!script || rest[i + 1] !== 'daemon') return false;
  const norm = (p: string) => p.replaceAll('\\', '/');
  if (ENTRY.test(norm(script))) return true;
  const real = resolve(script);
  return real !== undefined && ENTRY.test(norm(real));
}

/**
 * Whether a pid is a traced daemon, from its command line: true or false on
 * Linux (/proc), undefined where the command line cannot be read (no /proc:
 * macOS, Windows; or a process of another user). Callers signal only on true.
 */
export function looksLikeTraced(pid: number): boolean | undefined {
  let raw: string;
  try {
    raw = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined;
  }
  const argv = raw.split('\0');
  if (argv.at(-1) === '') argv.pop();
  return isDaemonArgv(argv, (script) => {
    try {
      return fs.realpathSync(path.isAbsolute(script) ? script : path.join(fs.readlinkSync(`/proc/${pid}/cwd`), script));
    } catch {
      return undefined;
    }
  });
}
