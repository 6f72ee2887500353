/**
 * The one place that starts child processes, and ties each to the daemon's
 * life: no child outlives the process that started it.
 * - On Linux every child is started through util-linux's `setpriv
 *   --pdeathsig KILL` (it sets PR_SET_PDEATHSIG, then execs the program: same
 *   pid, no process in between), so a daemon killed with SIGKILL takes its
 *   ffmpeg, tesseract and pocketsphinx with it; measured: the microphone is
 *   closed within milliseconds instead of never.
 * - Long-lived children (capture ffmpeg) are also recorded in `run/children/`
 *   (pid, start time and command line from /proc); at cold start the daemon
 *   reaps any that still run — a platform without a parent-death signal, or a
 *   child whose tie failed — checking all three, never a name.
 * Short-lived helpers (git, xdotool, pactl…) run with no shell, a deadline,
 * bounded output, and a result instead of an exception for a non-zero exit.
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const SETPRIV = '/usr/bin/setpriv';
let tieWith: string | undefined | null = null;

/** The parent-death wrapper of this machine (Linux with util-linux), or undefined. */
function tie(): string | undefined {
  if (tieWith === null) tieWith = process.platform === 'linux' && fs.existsSync(SETPRIV) ? SETPRIV : undefined;
  return tieWith;
}

/** `cmd args` as started tied to this process: it gets SIGKILL when this process dies. */
export function tiedCommand(cmd: string, args: readonly string[]): [string, string[]] {
  const t = tie();
  return t ? [t, ['--pdeathsig', 'KILL', '--', cmd, ...args]] : [cmd, [...args]];
}

/** Starts a long-lived child tied to this process (see the module comment). */
export function spawnTied(cmd: string, args: readonly string[], opts: SpawnOptions): ChildProcess {
  const [c, a] = tiedCommand(cmd, args);
  return spawn(c, a, opts);
}

/** What identifies a process beyond its pid (which the kernel reuses): start time and command line. */
function identity(pid: number): { start: string; cmdline: string } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime) counts from the one after the command name, which may hold spaces: split after ')'.
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return start ? { start, cmdline } : undefined;
  } catch {
    return undefined; // gone, or no /proc on this platform
  }
}

/**
 * The daemon's record of its long-lived children, one file per child under
 * `dir`: written when the child starts, removed when it exits.
 */
export class ChildRegistry {
  constructor(private readonly dir: string) {}

  /** Records a started child; the record is removed when it exits. */
  track(child: ChildProcess): void {
    const pid = child.pid;
    if (!pid) return;
    const id = identity(pid);
    if (!id) return; // no /proc: nothing to check a reap against later
    const file = path.join(this.dir, `${pid}.json`);
    try {
      fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      fs.writeFileSync(file, JSON.stringify({ pid, ...id, daemon: process.pid }), { mode: 0o600 });
    } catch {
      return; // a full disk: the parent-death signal still ties the child
    }
    child.once('exit', () => fs.rmSync(file, { force: true }));
  }

  /**
   * Kills children a previous daemon recorded that still run as the same
   * process (same pid, start time and command line), and forgets the rest.
   * Returns the pids killed.
   */
  async reap(): Promise<number[]> {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir).filter((n) => n.endsWith('.json'));
    } catch {
      return [];
    }
    const killed: number[] = [];
    for (const n of names) {
      const file = path.join(this.dir, n);
      try {
        const rec = JSON.parse(fs.readFileSync(file, 'utf8')) as { pid?: unknown; start?: unknown; cmdline?: unknown; daemon?: unknown };
        if (rec.daemon === process.pid) continue; // ours, alive and supervised
        const now = typeof rec.pid === 'number' ? identity(rec.pid) : undefined;
        if (now && now.start === rec.start && now.cmdline === rec.cmdline) {
          process.kill(rec.pid as number, 'SIGKILL');
          killed.push(rec.pid as number);
        }
      } catch {
        // a torn record, or the process went away meanwhile
      }
      fs.rmSync(file, { force: true });
    }
    // SIGKILL is delivered at once; the process lingers as a zombie until init reaps it.
    for (let i = 0; i < 50 && killed.some((pid) => identity(pid) !== undefined && !isZombie(pid)); i++) await new Promise((r) => setTimeout(r, 20));
    return killed;
  }
}

function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Set when the program could not be started at all (ENOENT: not installed). */
  spawnError?: NodeJS.ErrnoException;
}

export interface RunOptions {
  cwd?: string;
  env?: Readonly<Record<string, string | undefined>>;
  timeoutMs?: number;
  input?: string;
  maxBytes?: number;
  /** Aborting kills the program. */
  signal?: AbortSignal;
}

export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const [c, a] = tiedCommand(cmd, args);
    const child = execFile(
      c,
      a,
      {
        cwd: opts.cwd,
        env: opts.env as NodeJS.ProcessEnv | undefined,
        timeout: opts.timeoutMs ?? 10_000,
        maxBuffer: opts.maxBytes ?? 16 * 1024 * 1024,
        killSignal: 'SIGKILL',
        windowsHide: true,
        ...(opts.signal ? { signal: opts.signal } : {}),
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { code?: unknown }) | null;
        // Through the parent-death wrapper a missing program is its exit 127, not a spawn error: say it the same way.
        if (e && (e as { code?: unknown }).code === 127 && c !== cmd && /^setpriv: failed to execute/m.test(stderr ?? '')) {
          const missing = Object.assign(new Error(`spawn ${cmd} ENOENT`), { code: 'ENOENT', path: cmd }) as NodeJS.ErrnoException;
          resolve({ code: null, stdout: stdout ?? '', stderr: stderr ?? '', spawnError: missing });
          return;
        }
        if (e && typeof e.code === 'string') {
          resolve({ code: null, stdout: stdout ?? '', stderr: stderr ?? '', spawnError: e });
          return;
        }
        resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, stdout: stdout ?? '', stderr: stderr ?? '' });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** True when `cmd` can be started (found on PATH and executable). */
export async function hasCommand(cmd: string, env?: RunOptions['env']): Promise<boolean> {
  const probe = process.platform === 'win32' ? await run('where', [cmd], { env }) : await run('sh', ['-c', 'command -v "$0"', cmd], { env });
  return probe.code === 0 && probe.stdout.trim().length > 0;
}
