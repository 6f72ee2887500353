/**
 * `traced daemon status|stop|restart`: the daemon seen and stopped from the
 * outside (over its socket, else by a signal to the pid in its lock file).
 * They work with a broken config.json too: the paths are then guessed as for
 * `traced stop`, so a daemon started with the earlier file can still be stopped.
 */
import { reachPaths } from '../../config/setup.js';
import { ErrorCodes, TracedError } from '../../errors.js';
import { connectDaemon, daemonState, type DaemonState, type StopResult, stopDaemon } from '../../ipc/connect.js';
import { VERSION } from '../../version.js';
import type { Command, Io } from '../command.js';
import { duration } from '../format.js';

function stateLine(s: DaemonState): string {
  if (!s.running) return `not running (socket ${s.socket})`;
  if (!s.answering) return `pid ${s.pid} holds ${s.lock_file} but does not answer on ${s.socket}; traced daemon stop ends it`;
  const lines = [
    `running: pid ${s.pid}, version ${s.version ?? 'unknown (older than 0.1)'}${s.uptime_ms === null ? '' : `, up ${duration(s.uptime_ms)}`}`,
    `socket:  ${s.socket}`,
    `session: ${s.recording ? `${s.recording} is recording` : 'none recording'}`,
  ];
  if (s.version !== VERSION) lines.push(`note:    this traced is ${VERSION}; traced daemon restart runs it${s.recording ? ' (after traced stop)' : ''}`);
  return lines.join('\n');
}

/** A session records: stop and restart end it only when told to. */
async function refuseWhileRecording(io: Io, force: boolean): Promise<void> {
  if (force) return;
  const s = await daemonState(reachPaths(io.env).paths);
  if (s.recording) {
    throw new TracedError(
      ErrorCodes.SESSION_ACTIVE,
      `session ${s.recording} is recording; stopping the daemon would end it. Run traced stop first, or pass --force to end it now.`,
      { data: { session: s.recording } },
    );
  }
}

function stopLine(r: StopResult): string {
  if (!r.running) return 'no daemon was running';
  const how = r.how === 'socket' ? '' : r.how === 'sigterm' ? ' (it did not answer on its socket: SIGTERM)' : ' (it did not exit in time: SIGKILL)';
  return `stopped the daemon (pid ${r.pid}${r.version ? `, ${r.version}` : ''})${how}${r.recording ? `; session ${r.recording} was ended` : ''}`;
}

const force = { force: { type: 'boolean', help: 'also when a session is recording (the session ends)' } } as const;

export const lifecycleCommands: (Command & { parent: string })[] = [
  {
    parent: 'daemon',
    name: 'status',
    usage: 'traced daemon status [--json]',
    summary: 'is the daemon running: pid, version, uptime, socket, the session it records',
    run: async (a, io) => {
      const s = await daemonState(reachPaths(io.env).paths);
      io.stdout.write(a.values.json ? `${JSON.stringify(s, null, 2)}\n` : `${stateLine(s)}\n`);
      return s.running ? 0 : 3;
    },
  },
  {
    parent: 'daemon',
    name: 'stop',
    usage: 'traced daemon stop [--force] [--json]',
    summary: 'stop the daemon gracefully (over its socket, else SIGTERM); --force also ends a recording session',
    options: force,
    run: async (a, io) => {
      await refuseWhileRecording(io, a.values.force === true);
      const r = await stopDaemon(reachPaths(io.env).paths);
      io.stdout.write(a.values.json ? `${JSON.stringify(r, null, 2)}\n` : `${stopLine(r)}\n`);
      return 0;
    },
  },
  {
    parent: 'daemon',
    name: 'restart',
    usage: 'traced daemon restart [--force] [--json]',
    summary: 'stop the daemon and start this version in the background, with this shell’s display and audio',
    options: force,
    run: async (a, io) => {
      await refuseWhileRecording(io, a.values.force === true);
      const { paths, problem } = reachPaths(io.env);
      if (problem) throw problem; // it could not start again with this config.json
      const r = await stopDaemon(paths);
      (await connectDaemon(paths, { env: io.env, versionCheck: false })).close();
      const s = await daemonState(paths);
      if (a.values.json) io.stdout.write(`${JSON.stringify({ stopped: r, started: s }, null, 2)}\n`);
      else io.stdout.write(`${stopLine(r)}\nstarted the daemon (pid ${s.pid}, ${s.version}) on ${s.socket}\n`);
      return 0;
    },
  },
];
