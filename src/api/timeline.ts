import { defineOperation } from './operation.js';
import {
  GetTimelineInput,
  GetTimelineOutput,
  GetTranscriptInput,
  GetTranscriptOutput,
  IngestEventInput,
  IngestEventOutput,
  SearchInput,
  SearchOutput,
} from '../model.js';

export const getTimeline = defineOperation({
  name: 'get_timeline',
  title: 'Events of a session in a time range',
  description:
    'The events of a session in order, optionally within a range: from/to as moments ("+1:30", "14:32", ISO) or from_ms/to_ms offsets, ' +
    'and filtered by type prefix or channel. Pages with after_seq / next_after_seq.',
  input: GetTimelineInput,
  output: GetTimelineOutput,
  readOnly: true,
  run: ({ sessions }, { session, ...q }) => sessions.timeline(sessions.resolve(session), q),
});

export const search = defineOperation({
  name: 'search',
  title: 'Search everything recorded',
  description:
    'Full-text search over everything recorded (file paths, commit subjects and files, window titles, pushed editor and assistant events), ranked by relevance then recency. ' +
    'Each hit has the session, its offset, a highlighted snippet and a replay handle. Filters: session, time range, channels, types.',
  input: SearchInput,
  output: SearchOutput,
  readOnly: true,
  run: ({ sessions, search }, { session, ...q }) => search.run(q, session === undefined ? undefined : sessions.resolve(session)),
});

export const ingestEvent = defineOperation({
  name: 'ingest_event',
  title: 'Push an event into the session',
  description:
    'Record an event from an editor, an assistant or a terminal into the active session (e.g. editor.file_opened, editor.diagnostics, editor.test_run). ' +
    'Acknowledged only once it is durably stored; returns its seq and offset on the session clock.',
  input: IngestEventInput,
  output: IngestEventOutput,
  readOnly: false,
  run: ({ recorder }, input) => recorder.ingest(input),
});

export const getTranscript = defineOperation({
  name: 'get_transcript',
  title: 'What was said',
  description:
    'What was said in a session (or a range): utterances from the microphone and system audio with start/end offsets, confidence and engine. ' +
    'Made on this machine after each audio segment; status.indexer says how far behind.',
  input: GetTranscriptInput,
  output: GetTranscriptOutput,
  readOnly: true,
  run: ({ sessions }, { session, ...q }) => sessions.transcript(sessions.resolve(session), q),
});
