import { z } from 'zod';
import { DeviceList, SessionSummary } from '../model.js';
import { defineOperation } from './operation.js';
import {
  GetSessionInput,
  GetSessionOutput,
  ListSessionsInput,
  ListSessionsOutput,
  SessionRefInput,
  StartSessionInput,
  StartSessionOutput,
  StatusOutput,
  PruneInput,
  PruneOutput,
} from '../model.js';

export const startSession = defineOperation({
  name: 'start_session',
  title: 'Start recording a session',
  description:
    'Start recording a work session on a project directory: file saves, git activity, the focused window, and pushed editor/assistant events (media per profile). ' +
    'Fails with TRACED_SESSION_ACTIVE when a session is already recording. Returns the new session and any warnings (e.g. a channel unavailable on this machine).',
  input: StartSessionInput,
  output: StartSessionOutput,
  readOnly: false,
  run: ({ recorder }, input, ctx) => recorder.start(input, ctx.cwd, ctx.env),
});

export const stopSession = defineOperation({
  name: 'stop_session',
  title: 'Stop the session',
  description: 'Stop the active (or given) session: stops every channel, commits its last events and returns the session summary.',
  input: SessionRefInput,
  output: SessionSummary,
  readOnly: false,
  run: ({ recorder }, input) => recorder.stop(input.session),
});

export const pauseSession = defineOperation({
  name: 'pause_session',
  title: 'Pause recording',
  description: 'Pause the active session: nothing is recorded until resume_session; the session clock keeps running so offsets stay comparable.',
  input: SessionRefInput,
  output: SessionSummary,
  readOnly: false,
  run: ({ recorder }, input) => recorder.pause(input.session),
});

export const resumeSession = defineOperation({
  name: 'resume_session',
  title: 'Resume recording',
  description: 'Resume a paused session: channels record again from now on; the pause shows in the timeline as session.paused / session.resumed.',
  input: SessionRefInput,
  output: SessionSummary,
  readOnly: false,
  run: ({ recorder }, input) => recorder.resume(input.session),
});

export const status = defineOperation({
  name: 'status',
  title: 'Daemon and session status',
  description:
    'Is traced recording? Returns the daemon (pid, version, uptime, data directory) and the active session with the health of each channel, or null when idle.',
  input: z.object({}),
  output: StatusOutput,
  readOnly: true,
  run: ({ sessions }) => sessions.status(),
});

export const listSessions = defineOperation({
  name: 'list_sessions',
  title: 'List sessions',
  description: 'List recorded sessions, most recent first, with project, state, start/end time, duration and event count. Use it to find a session id.',
  input: ListSessionsInput,
  output: ListSessionsOutput,
  readOnly: true,
  run: ({ sessions }, input, ctx) => sessions.list(input, ctx.cwd),
});

export const getSession = defineOperation({
  name: 'get_session',
  title: 'Show one session',
  description:
    'One session in detail: its summary, how many events of each type it has, and its first events in order (seq, wall-clock ts, offset_ms, channel, type, data).',
  input: GetSessionInput,
  output: GetSessionOutput,
  readOnly: true,
  run: ({ sessions }, { session, ...q }) => sessions.get(sessions.resolve(session), q),
});

export const listDevices = defineOperation({
  name: 'list_devices',
  title: 'Capture devices',
  description:
    'Displays (with geometry) and audio sources (microphones; output monitors for system audio) that can be recorded, with the channel ids start_session takes, ' +
    'and why a kind of device cannot be listed, with the fix.',
  input: z.object({}),
  output: DeviceList,
  readOnly: true,
  run: ({ devices }, _input, ctx) => devices.list(ctx.env),
});

export const prune = defineOperation({
  name: 'prune',
  title: 'Apply the retention policy',
  description:
    'Delete the media the retention policy (config retention.maxDiskGb / maxAgeDays / hardCapGb) lets go: oldest ended sessions first; media waiting for upload only past the hard cap. ' +
    'dry_run (the default) only lists it. Events and transcripts stay.',
  input: PruneInput,
  output: PruneOutput,
  readOnly: false,
  destructive: true,
  run: ({ retention }, input) => retention.prune(input),
});
