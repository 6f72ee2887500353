/**
 * The one place that runs short-lived helper processes (git, xdotool, pactl…):
 * no shell, a deadline, bounded output, and a result instead of an exception
 * for a non-zero exit. Long-lived children (ffmpeg) have their own supervisor.
 */
import { execFile } from 'node:child_process';

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
    const child = execFile(
      cmd,
      args,
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
