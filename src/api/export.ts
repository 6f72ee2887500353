import { defineOperation } from './operation.js';
import { ExportSessionInput, ExportSessionOutput, GetClipInput, GetClipOutput, ImportRecordingInput, ImportRecordingOutput } from '../model.js';

export const exportSession = defineOperation({
  name: 'export_session',
  title: 'Export a session as video',
  description:
    'Export a session (or a range of it) to a file on this machine and return its path, or, with target "videodb", the state of its video in VideoDB ' +
    '(export_status, video_id, stream_url, player_url; queued at stop when a key is configured, now otherwise).',
  input: ExportSessionInput,
  output: ExportSessionOutput,
  readOnly: false,
  run: ({ sessions, exporter }, { session, ...q }) => exporter.export(sessions.resolve(session), q),
});

export const getClip = defineOperation({
  name: 'get_clip',
  title: 'A clip of a session',
  description:
    'A playable clip of [from_ms, to_ms] of a session: a VideoDB stream URL when the session was exported there, otherwise a local MP4 cut from the recorded segments (screen + mixed audio).',
  input: GetClipInput,
  output: GetClipOutput,
  readOnly: false,
  run: ({ sessions, exporter }, { session, ...q }) => exporter.clip(sessions.resolve(session), q),
});

export const importRecording = defineOperation({
  name: 'import_recording',
  title: 'Load a session recording',
  description:
    "Load a JSON or JSONL session recording (from export_session) into this machine's store as a session: its events, annotations and, when media_dir holds them, its media.",
  input: ImportRecordingInput,
  output: ImportRecordingOutput,
  readOnly: false,
  run: ({ exporter }, input, ctx) => exporter.import(input, ctx.cwd),
});
