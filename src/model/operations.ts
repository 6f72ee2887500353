/** What services take and return for sessions, timelines, search, export and ingest; src/api builds the operations (and MCP tool schemas) from these. */
import { z } from 'zod';
import { ChannelSpec, Profile, RecordedEvent, SessionRef, SessionSummary } from './base.js';
import { TerminalCommandRef } from './terminal-ref.js';
// ---------------------------------------------------------------- operation shapes

/** The longest a session can be (a year): larger offsets are mistakes, not moments. */
export const MAX_OFFSET_MS = 366 * 86_400_000;
/** The latest time traced accepts (the year 2200): sums with offsets stay safe integers. */
export const MAX_TS = Date.UTC(2200, 0, 1);
// What services take and return; src/api builds the operations (and MCP tool schemas) from these.

/** Epoch ms, an ISO date-time, or a relative time such as "30m", "2h", "1d" (that long ago). */
export const TimeArg = z
  .union([z.number().int(), z.string().min(1).max(40)])
  .describe('A time: "30m", "2h", "1d" (that long ago); "14:32" or "14:32:05" (today, or the session\'s day); an ISO 8601 date-time; epoch ms.');

export const Limit = (def: number, max: number) => z.number().int().min(1).max(max).default(def);
/** The byte budget of a reply's lists; what does not fit comes with a continuation. */
export const MaxBytes = z
  .number()
  .int()
  .min(1000)
  .max(900_000)
  .default(40_000)
  .describe('Reply budget in JSON bytes (40000 ≈ 10k tokens); the rest comes on the next page.');

export const StartSessionInput = z.object({
  project: z
    .string()
    .min(1)
    .max(4096)
    .optional()
    .describe("Project directory to record (absolute, or relative to the daemon). Defaults to the daemon's working directory."),
  label: z.string().max(200).optional().describe('A short human label for the session, e.g. "fix cache invalidation".'),
  profile: Profile.optional(),
  channels: z.array(ChannelSpec).max(32).optional().describe("Channels to record instead of the profile's set, each with store true|false."),
});
export const StartSessionOutput = z.object({ session: SessionSummary, warnings: z.array(z.string()) });

export const SessionRefInput = z.object({
  session: SessionRef.optional().describe('Session to act on; defaults to the active session.'),
});

export const StorageStatus = z
  .object({
    free_bytes: z.number().nullable().describe('Free space on the disk holding the data directory.'),
    problem: z
      .object({ code: z.string(), message: z.string(), since: z.number().int() })
      .nullable()
      .describe('Why data cannot be written right now (e.g. TRACED_DISK_FULL), or null.'),
  })
  .describe('Can the daemon write what it records?');
export type StorageStatus = z.infer<typeof StorageStatus>;

export const DaemonInfo = z.object({
  pid: z.number().int(),
  version: z.string(),
  node: z.string(),
  started_at: z.number().int(),
  uptime_ms: z.number().int(),
  home: z.string(),
  socket: z.string(),
  storage: StorageStatus,
});
const IndexerPart = z.object({
  engine: z.string().nullable(),
  reason: z.string(),
  pending_segments: z.number().int().describe('Segments the engine has still to index.'),
  behind_ms: z.number().int(),
  waiting_segments: z
    .number()
    .int()
    .describe('With no engine yet (speech before a whisper model is installed): segments kept to be indexed once one is; 0 otherwise.'),
  waiting_ms: z.number().int().describe('Media in waiting_segments.'),
});
export const IndexerStatus = z
  .object({
    ocr: IndexerPart,
    speech: IndexerPart,
    current: z.object({ session: z.string(), channel: z.string(), seq: z.number().int(), kind: z.string() }).nullable(),
    indexed_segments: z.number().int(),
    deferred: z.string().nullable().optional().describe('Why indexing waits now (recording on battery or on a busy machine), or null.'),
    cost: z
      .object({
        cpu_ms: z.record(z.string(), z.number().int()).describe('CPU (ms) per stage since the daemon started: frame_decode, change_detection, ocr, speech.'),
        media_ms: z.object({ ocr: z.number().int(), speech: z.number().int() }).describe('Recording (ms) indexed in that time, per kind.'),
      })
      .optional(),
  })
  .describe('Local indexing: which engines run and why, and how far behind the recording they are.');
export type IndexerStatus = z.input<typeof IndexerStatus>;
export type DaemonInfo = z.input<typeof DaemonInfo>;
export const StatusOutput = z.object({ daemon: DaemonInfo, session: SessionSummary.nullable(), indexer: IndexerStatus.optional() });

/** A moment inside a session, as an alternative to a `*_ms` offset: the one time grammar (DESIGN.md §8). */
const RangeMoment = z.union([z.number().int().min(0).max(MAX_TS), z.string().min(1).max(64)]);
/** `from` / `to` beside `from_ms` / `to_ms`: either form, not both. */
const RangeInput = {
  from: RangeMoment.optional().describe('Start: "+1:30", "14:32", ISO or epoch ms (or from_ms).'),
  to: RangeMoment.optional().describe('End: "+2:00", "14:35", ISO or epoch ms (or to_ms).'),
};

export const GetTranscriptInput = z.object({
  session: SessionRef,
  from_ms: z.number().int().min(0).max(MAX_OFFSET_MS).optional().describe('Start, ms from the session start (90000 = 1:30 in).'),
  to_ms: z.number().int().min(1).max(MAX_OFFSET_MS).optional().describe('End, ms from the session start.'),
  ...RangeInput,
  after_seq: z.number().int().min(0).optional().describe('Continue after this seq (pass the previous next_after_seq).'),
  limit: Limit(200, 5000).describe('At most this many utterances.'),
  max_bytes: MaxBytes,
});
export const GetTranscriptOutput = z.object({
  session_id: z.string(),
  segments: z.array(
    z.object({
      offset_ms: z.number().int(),
      end_offset_ms: z.number().int(),
      channel: z.string(),
      text: z.string(),
      confidence: z.number().nullable(),
      engine: z.string(),
      seq: z.number().int(),
    }),
  ),
  engine: z.string().nullable().describe('The speech engine indexing now, or null with the reason in status.indexer.speech.'),
  next_after_seq: z.number().int().nullable().describe('Pass as after_seq for the rest; null when there is no more.'),
});

export const ListSessionsInput = z.object({
  limit: Limit(20, 500).describe('Most recent sessions first; at most this many.'),
  since: TimeArg.optional().describe('Only sessions running at or after this time: "2h" (ago), ISO 8601 or epoch ms.'),
  until: TimeArg.optional().describe('Only sessions started at or before this time: "2h" (ago), ISO 8601 or epoch ms.'),
  project: z.string().max(4096).optional().describe('Only sessions of this project directory.'),
  cursor: z.string().max(100).optional().describe('Continue after the previous page: pass its next_cursor.'),
  max_bytes: MaxBytes,
});
export const ListSessionsOutput = z.object({
  sessions: z.array(SessionSummary),
  next_cursor: z.string().nullable().describe('Pass as cursor for the next (older) page; null when there is no more.'),
});

export const GetSessionInput = z.object({
  session: SessionRef,
  events_limit: Limit(50, 5000).describe("How many of the session's first events to include."),
  max_bytes: MaxBytes,
});
export const GetSessionOutput = z.object({
  session: SessionSummary,
  counts: z.record(z.string(), z.number().int()).describe('Number of events per type.'),
  events: z.array(RecordedEvent),
  truncated: z.boolean(),
  next_after_seq: z.number().int().nullable().describe('When truncated: pass as after_seq to get_timeline for the rest.'),
});

export const GetTimelineInput = z.object({
  session: SessionRef,
  from_ms: z.number().int().min(0).max(MAX_OFFSET_MS).optional().describe('Start, ms from the session start (90000 = 1:30 in).'),
  to_ms: z.number().int().min(0).max(MAX_OFFSET_MS).optional().describe('End (inclusive), ms from the session start.'),
  ...RangeInput,
  types: z.array(z.string().max(64)).max(32).optional().describe('Event types or type prefixes, e.g. ["git.commit", "file"].'),
  channels: z.array(z.string().max(64)).max(32).optional().describe('Channels, e.g. ["files", "git"].'),
  after_seq: z.number().int().min(0).optional().describe('Continue after this seq (paging: pass the previous next_after_seq).'),
  limit: Limit(200, 10_000).describe('At most this many events.'),
  max_bytes: MaxBytes,
});
export const GetTimelineOutput = z.object({
  session_id: z.string(),
  events: z.array(RecordedEvent),
  next_after_seq: z
    .number()
    .int()
    .nullable()
    .describe('Pass as after_seq to get the next page; null when there is no more. Pages follow seq, the order events were recorded in.'),
  moments: z
    .array(z.object({ kind: z.string(), start_offset_ms: z.number().int(), end_offset_ms: z.number().int(), data: z.record(z.string(), z.unknown()) }))
    .optional()
    .describe('Named stretches (progress, stuck, research, speech, idle) overlapping the range, on the first page.'),
});

export const SearchInput = z.object({
  query: z
    .string()
    .min(1)
    .max(500)
    .describe(
      'Words to find: identifiers, error codes, file names, phrases in "quotes". Unquoted terms also match inside longer words (Cache finds invalidateCache); a query all in quotes matches whole words only. A trailing * matches a prefix. At most 32 terms of 128 characters.',
    ),
  session: SessionRef.optional().describe('Only this session.'),
  since: TimeArg.optional(),
  until: TimeArg.optional(),
  channels: z.array(z.string().max(64)).max(32).optional().describe('Channels, e.g. ["files", "mic:default"].'),
  types: z.array(z.string().max(64)).max(32).optional().describe('Event types or prefixes, e.g. ["git.commit"].'),
  order: z
    .enum(['first', 'recent'])
    .default('first')
    .describe(
      'first (default): results by relevance, each pointing at the moment its text first appeared; recent: latest appearances first, each pointing at its latest appearance.',
    ),
  cursor: z.string().max(200).optional().describe('next_cursor of the previous page, with the same query and filters: the next results, none repeated.'),
  limit: Limit(20, 200).describe('At most this many hits.'),
  max_bytes: MaxBytes,
});
const Span = z.object({ start_offset_ms: z.number().int(), end_offset_ms: z.number().int(), count: z.number().int() });
export const SearchHit = z.object({
  session_id: z.string(),
  seq: z.number().int(),
  ts: z.number().int(),
  offset_ms: z.number().int(),
  channel: z.string(),
  type: z.string(),
  snippet: z.string().describe('Matching text with the matched words between ** **.'),
  score: z.number(),
  source: z.enum(['local', 'videodb']).describe("local: this machine's index; videodb: the cloud index of the session's exported video."),
  end_offset_ms: z.number().int().optional().describe('End of the matched passage or merged moment.'),
  matched: z.enum(['word', 'substring']).optional().describe('Which local index matched: whole words, or a substring of an identifier/path.'),
  merged: z.number().int().optional().describe('How many adjacent hits this moment folds together.'),
  command: TerminalCommandRef.nullable()
    .optional()
    .describe('Terminal output hits: the command that printed it (from the shell hook), or null when none was reported.'),
  replay: z.object({ session: z.string(), at_ms: z.number().int() }).describe('Pass to replay/timeline operations to see this moment.'),
  at: z.string().optional().describe('Wall clock of offset_ms.'),
  first_offset_ms: z
    .number()
    .int()
    .optional()
    .describe('When this text first appeared in the session: the same or near-identical text seen again later is this one result.'),
  first_at: z.string().optional(),
  last_offset_ms: z.number().int().optional().describe('When it was last seen (start of its latest appearance).'),
  last_at: z.string().optional(),
  occurrences: z.number().int().optional().describe('How many recorded events this result covers.'),
  spans: z.array(Span).optional().describe('The stretches it was seen in, in time order (at most 20; spans_more counts the rest).'),
  spans_more: z.number().int().optional(),
});
export const SearchOutput = z.object({
  query: z.string(),
  hits: z.array(SearchHit),
  warnings: z.array(z.string()).optional().describe('E.g. the cloud index could not be asked; local hits are still complete.'),
  truncated: z.boolean().optional().describe('Hits were left out to fit max_bytes or limit; next_cursor continues after the last one.'),
  next_cursor: z.string().nullable().optional().describe('Pass as cursor for the next page; null when every matching result has been returned.'),
});

export const ExportSessionInput = z.object({
  session: SessionRef,
  target: z
    .enum(['mp4', 'videodb', 'json', 'jsonl', 'raw', 'asciicast'])
    .default('mp4')
    .describe(
      "mp4: screen + mixed audio in one file; videodb: the session's video in VideoDB (uploaded after stop); json / jsonl: the session recording (events, annotations, media manifest) that `import_recording` loads back; raw: one media file per channel; asciicast: the terminal output of `traced shell` as an asciicast v2 file asciinema plays.",
    ),
  display: z
    .string()
    .regex(/^display:\d+$/)
    .optional()
    .describe('Display to use (mp4), e.g. "display:1"; the first one otherwise.'),
  from_ms: z.number().int().min(0).max(MAX_OFFSET_MS).optional().describe('Start, ms from the session start (mp4).'),
  to_ms: z.number().int().min(1).max(MAX_OFFSET_MS).optional().describe('End, ms from the session start (mp4).'),
});
export const ExportSessionOutput = z.object({
  session_id: z.string(),
  target: z.enum(['mp4', 'videodb', 'json', 'jsonl', 'raw', 'asciicast']),
  files: z
    .array(z.object({ channel: z.string(), file: z.string(), bytes: z.number().int() }))
    .optional()
    .describe('raw: one file per channel.'),
  events: z.number().int().optional().describe('json / jsonl: events written; asciicast: output and resize events written.'),
  export_status: z.enum(['exported', 'exporting', 'failed', 'not_configured']),
  file: z.string().optional(),
  bytes: z.number().int().optional(),
  duration_ms: z.number().int().optional(),
  video: z.string().nullable().optional(),
  audio: z.array(z.string()).optional(),
  video_id: z.string().nullable().optional(),
  stream_url: z.string().nullable().optional(),
  player_url: z.string().nullable().optional(),
  error: z.string().nullable().optional(),
});

export const GetClipInput = z.object({
  session: SessionRef,
  from_ms: z.number().int().min(0).max(MAX_OFFSET_MS).describe('Start, ms from the session start.'),
  to_ms: z.number().int().min(1).max(MAX_OFFSET_MS).describe('End, ms from the session start.'),
});
export const GetClipOutput = z.object({
  session_id: z.string(),
  source: z.enum(['videodb', 'local']),
  stream_url: z.string().optional().describe('A VideoDB stream of the range, when the session was exported there.'),
  file: z.string().optional().describe('A local MP4 of the range, cut from the recorded segments.'),
  from_ms: z.number().int(),
  to_ms: z.number().int(),
});

export const IngestEventInput = z.object({
  type: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/, 'dotted lowercase words, e.g. editor.file_opened')
    .describe('Event type, e.g. editor.file_opened, editor.diagnostics, editor.test_run, editor.debug_session.'),
  data: z.record(z.string(), z.unknown()).default({}).describe('Event payload (JSON object, at most 64 KiB serialized).'),
  channel: z.enum(['editor', 'agent', 'terminal']).default('editor').describe('Channel the event belongs to.'),
  ts: z.number().int().min(0).max(MAX_TS).optional().describe('When it happened, epoch ms; defaults to now.'),
  parent_seq: z.number().int().positive().optional().describe('seq of an event this one follows from.'),
  session: SessionRef.optional().describe('Defaults to the active session.'),
});
export const IngestEventOutput = z.object({
  session_id: z.string(),
  seq: z.number().int().nullable().describe('null when the event was not recorded (session paused).'),
  offset_ms: z.number().int().nullable(),
  dropped: z.string().optional(),
});

export type StartSessionInput = z.infer<typeof StartSessionInput>;
export type StartSessionOutput = z.input<typeof StartSessionOutput>;
export type StatusOutput = z.input<typeof StatusOutput>;
export type GetTranscriptInput = z.infer<typeof GetTranscriptInput>;
export type GetTranscriptOutput = z.input<typeof GetTranscriptOutput>;
export type ListSessionsInput = z.infer<typeof ListSessionsInput>;
export type ListSessionsOutput = z.input<typeof ListSessionsOutput>;
export type GetSessionInput = z.infer<typeof GetSessionInput>;
export type GetSessionOutput = z.input<typeof GetSessionOutput>;
export type GetTimelineInput = z.infer<typeof GetTimelineInput>;
export type GetTimelineOutput = z.input<typeof GetTimelineOutput>;
export type SearchInput = z.infer<typeof SearchInput>;
export type SearchOutput = z.input<typeof SearchOutput>;
export type ExportSessionInput = z.infer<typeof ExportSessionInput>;
export type ExportSessionOutput = z.input<typeof ExportSessionOutput>;
export type GetClipInput = z.infer<typeof GetClipInput>;
export type GetClipOutput = z.input<typeof GetClipOutput>;
export type IngestEventInput = z.infer<typeof IngestEventInput>;
export type IngestEventOutput = z.input<typeof IngestEventOutput>;
