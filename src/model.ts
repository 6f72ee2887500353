/**
 * Domain schemas shared by the engine, the store and the operations. Types come
 * from these schemas; there is no hand-written interface beside them.
 */
import { z } from 'zod';

/** Time-sortable, readable and safe as a directory name: `20261121-145012-k3x9`. */
/** The one session-id pattern: every id parsed anywhere (IPC, MCP, import, folder scan) is held to it before it names a path. */
export const SESSION_ID_PATTERN = /^\d{8}-\d{6}-[a-z0-9]{4}$/;
export const SessionId = z.string().regex(SESSION_ID_PATTERN, 'a session id looks like 20261121-145012-k3x9');
export type SessionId = z.infer<typeof SessionId>;

/** A session id, a unique prefix of one, or `last` for the most recent session. */
export const SessionRef = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9-]+$/, 'a session id, a unique prefix of one, or "last"')
  .describe('Session id (e.g. 20261121-145012-k3x9), a unique prefix of one, or "last".');
export type SessionRef = z.infer<typeof SessionRef>;

export const Profile = z
  .enum(['full', 'audio', 'events'])
  .describe('Capture profile: full = screen + mic + event channels, audio = mic + events, events = files, git, window and pushed events only.');
export type Profile = z.infer<typeof Profile>;

export const SessionState = z.enum(['recording', 'paused', 'stopping', 'ended', 'recovering', 'recovered', 'failed']);
export type SessionState = z.infer<typeof SessionState>;

export const ChannelState = z.enum(['starting', 'running', 'paused', 'degraded', 'unavailable', 'failed', 'stopped']);
export type ChannelState = z.infer<typeof ChannelState>;

/** Channel ids: `display:N`, `mic:<name|default>`, `system_audio:<name|default>`, `files`, `git`, `window`, `terminal`, `editor`, `agent`. */
export const ChannelId = z.string().regex(/^(files|git|window|terminal|editor|agent|display:\d+|mic:[\w.\-:]+|system_audio:[\w.\-:]+)$/, 'unknown channel id');
export type ChannelId = z.infer<typeof ChannelId>;

export const ChannelSpec = z.object({
  id: ChannelId.describe('Channel id, e.g. files, git, window, display:1, mic:default.'),
  store: z.boolean().default(true).describe('false = used live only, never persisted or uploaded.'),
});
export type ChannelSpec = z.infer<typeof ChannelSpec>;

export const ChannelStatus = z.object({
  id: z.string(),
  store: z.boolean(),
  state: ChannelState,
  detail: z.string().optional(),
  events: z.number().int().nonnegative().optional(),
  segments: z.number().int().nonnegative().optional().describe('Media segments registered so far.'),
  lastSegmentAt: z.number().int().optional().describe('When the newest segment was registered (ms since epoch).'),
  lastEventAt: z.number().int().optional(),
});
export type ChannelStatus = z.infer<typeof ChannelStatus>;

/** Free-form event payload. Keys are plain JSON; `__proto__` and friends never survive parsing. */
export const EventData = z.record(z.string(), z.unknown());
export type EventData = z.infer<typeof EventData>;

export const EventType = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/, 'event types are dotted lowercase words, e.g. file.changed');

export const RecordedEvent = z.object({
  session_id: z.string(),
  seq: z.number().int().positive(),
  parent_seq: z.number().int().positive().nullable(),
  ts: z.number().int().describe('Wall-clock time, ms since the Unix epoch.'),
  offset_ms: z.number().int().describe('Milliseconds since the session started, on the monotonic session clock.'),
  channel: z.string(),
  type: z.string(),
  data: EventData,
});
export type RecordedEvent = z.infer<typeof RecordedEvent>;

export const SessionSummary = z.object({
  id: z.string(),
  project: z.string(),
  label: z.string().nullable(),
  profile: Profile,
  state: SessionState,
  started_at: z.number().int(),
  ended_at: z.number().int().nullable(),
  duration_ms: z.number().int().nonnegative(),
  event_count: z.number().int().nonnegative(),
  channels: z.array(ChannelStatus),
  warnings: z.array(z.string()),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  uploads: z
    .object({ done: z.number().int(), pending: z.number().int(), in_flight: z.number().int(), failed: z.number().int() })
    .optional()
    .describe('Upload jobs of this session when a cloud target is configured.'),
});
export type SessionSummary = z.infer<typeof SessionSummary>;

// ---------------------------------------------------------------- devices

export const Display = z.object({
  id: z.string(),
  index: z.number().int(),
  name: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  x: z.number().int(),
  y: z.number().int(),
});
export type Display = z.infer<typeof Display>;
export const AudioSource = z.object({ id: z.string(), name: z.string(), kind: z.enum(['mic', 'monitor']), description: z.string(), default: z.boolean() });
export type AudioSource = z.infer<typeof AudioSource>;
export const DeviceList = z.object({
  platform: z.string(),
  displays: z.array(Display),
  audio: z.array(AudioSource),
  problems: z.array(z.string()).describe('Why a kind of device could not be listed, with the fix.'),
});
export type DeviceList = z.infer<typeof DeviceList>;

// ---------------------------------------------------------------- operation shapes

/** The longest a session can be (a year): larger offsets are mistakes, not moments. */
export const MAX_OFFSET_MS = 366 * 86_400_000;
/** The latest time traced accepts (the year 2200): sums with offsets stay safe integers. */
export const MAX_TS = Date.UTC(2200, 0, 1);
// What services take and return; src/api builds the operations (and MCP tool schemas) from these.

/** Epoch ms, an ISO date-time, or a relative time such as "30m", "2h", "1d" (that long ago). */
export const TimeArg = z
  .union([z.number().int(), z.string().min(1).max(40)])
  .describe('A point in time: epoch milliseconds, an ISO 8601 date-time, or a relative time like "30m", "2h", "1d" meaning that long ago.');

const Limit = (def: number, max: number) => z.number().int().min(1).max(max).default(def);
/** The byte budget of a reply's lists; what does not fit comes with a continuation. */
const MaxBytes = z
  .number()
  .int()
  .min(1000)
  .max(900_000)
  .default(40_000)
  .describe('Budget of the reply in bytes of JSON (default 40000, about 10k tokens; at most 900000). What does not fit is left for the next page.');

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
const IndexerPart = z.object({ engine: z.string().nullable(), reason: z.string(), pending_segments: z.number().int(), behind_ms: z.number().int() });
export const IndexerStatus = z
  .object({
    ocr: IndexerPart,
    speech: IndexerPart,
    current: z.object({ session: z.string(), channel: z.string(), seq: z.number().int(), kind: z.string() }).nullable(),
    indexed_segments: z.number().int(),
  })
  .describe('Local indexing: which engines run and why, and how far behind the recording they are.');
export type IndexerStatus = z.input<typeof IndexerStatus>;
export type DaemonInfo = z.input<typeof DaemonInfo>;
export const StatusOutput = z.object({ daemon: DaemonInfo, session: SessionSummary.nullable(), indexer: IndexerStatus.optional() });

export const GetTranscriptInput = z.object({
  session: SessionRef,
  from_ms: z.number().int().min(0).max(MAX_OFFSET_MS).optional(),
  to_ms: z.number().int().min(1).max(MAX_OFFSET_MS).optional(),
  after_seq: z.number().int().min(0).optional().describe('Continue after this seq (pass the previous next_after_seq).'),
  limit: Limit(200, 5000),
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
  since: TimeArg.optional().describe('Only sessions still running at or after this time.'),
  until: TimeArg.optional().describe('Only sessions started at or before this time.'),
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
  events_limit: Limit(50, 5000).describe("How many of the session's first events to include (default 50)."),
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
  from_ms: z.number().int().min(0).max(MAX_OFFSET_MS).optional().describe('Start of the range, ms from the session start.'),
  to_ms: z.number().int().min(0).max(MAX_OFFSET_MS).optional().describe('End of the range (inclusive), ms from the session start.'),
  types: z.array(z.string().max(64)).max(32).optional().describe('Event types or type prefixes, e.g. ["git.commit", "file"].'),
  channels: z.array(z.string().max(64)).max(32).optional().describe('Channels, e.g. ["files", "git"].'),
  after_seq: z.number().int().min(0).optional().describe('Continue after this seq (paging: pass the previous next_after_seq).'),
  limit: Limit(200, 10_000).describe('At most this many events (default 200).'),
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
  query: z.string().min(1).max(500).describe('Words to find: identifiers, error codes, file names, phrases in "quotes"; a trailing * matches a prefix.'),
  session: SessionRef.optional().describe('Only this session.'),
  since: TimeArg.optional(),
  until: TimeArg.optional(),
  channels: z.array(z.string().max(64)).max(32).optional(),
  types: z.array(z.string().max(64)).max(32).optional().describe('Event types or prefixes, e.g. ["git.commit"].'),
  limit: Limit(20, 200),
  max_bytes: MaxBytes,
});
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
  replay: z.object({ session: z.string(), at_ms: z.number().int() }).describe('Pass to replay/timeline operations to see this moment.'),
});
export const SearchOutput = z.object({
  query: z.string(),
  hits: z.array(SearchHit),
  warnings: z.array(z.string()).optional().describe('E.g. the cloud index could not be asked; local hits are still complete.'),
  truncated: z.boolean().optional().describe('Hits were left out to fit max_bytes; ask with a larger max_bytes or narrower filters.'),
});

export const ExportSessionInput = z.object({
  session: SessionRef,
  target: z
    .enum(['mp4', 'videodb', 'json', 'jsonl', 'raw'])
    .default('mp4')
    .describe(
      "mp4: screen + mixed audio in one file; videodb: the session's video in VideoDB (uploaded after stop); json / jsonl: the session recording (events, annotations, media manifest) that `import_recording` loads back; raw: one media file per channel.",
    ),
  display: z
    .string()
    .regex(/^display:\d+$/)
    .optional()
    .describe('Display to use (mp4); the first one otherwise.'),
  from_ms: z.number().int().min(0).max(MAX_OFFSET_MS).optional().describe('Start, ms from the session start (mp4).'),
  to_ms: z.number().int().min(1).max(MAX_OFFSET_MS).optional().describe('End, ms from the session start (mp4).'),
});
export const ExportSessionOutput = z.object({
  session_id: z.string(),
  target: z.enum(['mp4', 'videodb', 'json', 'jsonl', 'raw']),
  files: z
    .array(z.object({ channel: z.string(), file: z.string(), bytes: z.number().int() }))
    .optional()
    .describe('raw: one file per channel.'),
  events: z.number().int().optional().describe('json / jsonl: events written.'),
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

// ---------------------------------------------------------------- replay

const At = z
  .union([z.number().int().min(0).max(MAX_OFFSET_MS), z.string().min(1).max(64)])
  .describe('Offset in ms from the session start, or a wall time: ISO date-time, or "14:32" / "14:32:10" on the session\'s day.');

export const ReplayAtInput = z.object({
  session: SessionRef,
  at: At,
  tolerance_ms: z.number().int().min(0).max(60_000).default(2000).describe('Events this close to the moment are "current".'),
  window_ms: z.number().int().min(0).max(3_600_000).default(60_000).describe('How far back "recent" events reach.'),
  include_frame: z.boolean().default(false).describe('Also return the screen at that moment as an image (MCP); otherwise call get_frame when you need it.'),
});
const EventOut = z.object({
  seq: z.number().int(),
  offset_ms: z.number().int(),
  ts: z.number().int(),
  channel: z.string(),
  type: z.string(),
  data: z.record(z.string(), z.unknown()),
});
export const ReplayAtOutput = z.object({
  session_id: z.string(),
  offset_ms: z.number().int(),
  ts: z.number().int(),
  current: z.array(EventOut),
  recent: z.array(EventOut),
  moments: z.array(z.object({ kind: z.string(), start_offset_ms: z.number().int(), end_offset_ms: z.number().int(), data: z.record(z.string(), z.unknown()) })),
  annotations: z.array(z.object({ id: z.number().int(), offset_ms: z.number().int(), text: z.string() })),
  transcript: z.array(z.object({ offset_ms: z.number().int(), end_offset_ms: z.number().int(), text: z.string() })),
  speaking: z.boolean().describe('Whether someone was talking at that moment (a transcript segment covers it).'),
  screen_text: z.object({ offset_ms: z.number().int(), text: z.string() }).nullable().describe('The last on-screen text read at or before the moment.'),
  window: z.object({ offset_ms: z.number().int(), title: z.string(), app: z.string() }).nullable(),
  last_saved: z.object({ offset_ms: z.number().int(), path: z.string(), type: z.string() }).nullable(),
  git_head: z.object({ offset_ms: z.number().int(), hash: z.string().nullable(), subject: z.string().nullable(), branch: z.string().nullable() }).nullable(),
  frame: z
    .object({ display: z.string(), segment_seq: z.number().int() })
    .nullable()
    .describe('The display segment holding the screen at that moment (get_frame returns it as PNG).'),
});

export const GetFrameInput = z.object({
  session: SessionRef,
  at: At,
  display: z
    .string()
    .regex(/^display:\d+$/)
    .optional()
    .describe('Display to show; the first recorded one otherwise.'),
});
export const GetFrameOutput = z.object({
  session_id: z.string(),
  display: z.string(),
  offset_ms: z.number().int().describe('The moment asked for, on the session clock.'),
  frame_offset_ms: z.number().int().describe('Where the frame shown was taken (screen is sampled at a few frames per second).'),
  width: z.number().int(),
  height: z.number().int(),
  mime_type: z.literal('image/png'),
  png_base64: z.string().optional().describe('The PNG, base64 (over IPC). Over MCP the image is sent once, as image content, and not repeated here.'),
});

export const AnnotateInput = z.object({ session: SessionRef, at: At, text: z.string().min(1).max(4000) });
export const AnnotateOutput = z.object({ id: z.number().int(), session_id: z.string(), offset_ms: z.number().int(), ts: z.number().int(), text: z.string() });

export const ReplayCursorInput = z.object({
  session: SessionRef.optional().describe('Session to walk (needed unless cursor is given).'),
  cursor: z.string().max(200).optional().describe('Where a previous call stopped; omit to start at the beginning (or at seek_ms).'),
  seek_ms: z.number().int().min(0).max(MAX_OFFSET_MS).optional().describe('Jump to this offset (events before it are not returned).'),
  advance: z.number().int().min(1).max(1000).optional().describe('Return the next N events.'),
  advance_to_ms: z.number().int().min(0).max(MAX_OFFSET_MS).optional().describe('Return every event up to this offset.'),
  types: z.array(z.string().max(64)).max(32).optional(),
  max_bytes: MaxBytes,
});
export const ReplayCursorOutput = z.object({
  session_id: z.string(),
  events: z.array(EventOut),
  position_ms: z.number().int(),
  cursor: z.string().describe('Pass back to continue from here.'),
  done: z.boolean().describe('No events after this position.'),
});

export const WhatHappenedInput = z.object({
  session: SessionRef.optional(),
  since: TimeArg.optional(),
  until: TimeArg.optional(),
  last: z
    .string()
    .regex(/^\d+(\.\d+)?\s*[smhdw]$/i)
    .optional()
    .describe('E.g. "30m", "2h": from that long ago until now.'),
  max_chars: z.number().int().min(500).max(200_000).default(12_000).describe('Size budget of the digest (JSON characters).'),
});
export const WhatHappenedOutput = z.object({
  range: z.object({ since: z.number().int(), until: z.number().int() }),
  sessions: z.array(
    z.object({
      id: z.string(),
      project: z.string(),
      label: z.string().nullable(),
      started_at: z.number().int(),
      duration_ms: z.number().int(),
      state: z.string(),
      moments: z.array(z.object({ kind: z.string(), start_offset_ms: z.number().int(), duration_ms: z.number().int(), what: z.string() })),
      files_touched: z.array(z.object({ path: z.string(), saves: z.number().int() })),
      commits: z.array(z.object({ offset_ms: z.number().int(), hash: z.string().nullable(), subject: z.string() })),
      failed_commands: z.array(z.object({ offset_ms: z.number().int(), command: z.string(), exit_code: z.number().nullable() })),
      errors_on_screen: z.array(z.object({ offset_ms: z.number().int(), text: z.string() })),
      said: z.array(z.object({ offset_ms: z.number().int(), text: z.string() })),
      annotations: z.array(z.object({ offset_ms: z.number().int(), text: z.string() })),
    }),
  ),
  truncated: z.boolean().describe('Lists were shortened to fit max_chars.'),
});

export type ReplayAtInput = z.infer<typeof ReplayAtInput>;
export type ReplayAtOutput = z.input<typeof ReplayAtOutput>;
export type GetFrameInput = z.infer<typeof GetFrameInput>;
export type GetFrameOutput = z.input<typeof GetFrameOutput>;
export type AnnotateInput = z.infer<typeof AnnotateInput>;
export type AnnotateOutput = z.input<typeof AnnotateOutput>;
export type ReplayCursorInput = z.infer<typeof ReplayCursorInput>;
export type ReplayCursorOutput = z.input<typeof ReplayCursorOutput>;
export type WhatHappenedInput = z.infer<typeof WhatHappenedInput>;
export type WhatHappenedOutput = z.input<typeof WhatHappenedOutput>;

export const ImportRecordingInput = z.object({
  file: z.string().min(1).max(4096).describe('A JSON or JSONL recording written by export_session.'),
  as_new: z.boolean().default(false).describe("Give the session a new id (needed when the recording's session already exists here)."),
  media_dir: z
    .string()
    .max(4096)
    .optional()
    .describe('Folder holding the media the manifest lists (a session folder); media found there is copied in and registered.'),
});
export const ImportRecordingOutput = z.object({ session_id: z.string(), events: z.number().int(), media: z.number().int() });
export type ImportRecordingInput = z.infer<typeof ImportRecordingInput>;
export type ImportRecordingOutput = z.input<typeof ImportRecordingOutput>;

export const PruneInput = z.object({ dry_run: z.boolean().default(true).describe('Only list what the retention policy would delete (the default).') });
export const PruneOutput = z.object({
  dry_run: z.boolean(),
  policy: z.object({ maxDiskGb: z.number().optional(), maxAgeDays: z.number().optional(), hardCapGb: z.number().optional() }),
  items: z.array(
    z.object({
      session_id: z.string(),
      channel_id: z.string(),
      seq: z.number().int(),
      path: z.string(),
      bytes: z.number().int(),
      uploaded: z.boolean(),
      reason: z.enum(['age', 'disk', 'hard_cap']),
    }),
  ),
  total_bytes: z.number().int(),
  after_bytes: z.number().int(),
  freed_bytes: z.number().int(),
  kept_unuploaded_bytes: z.number().int().describe('Media over the budget kept because it is not uploaded yet.'),
});
export type PruneInput = z.infer<typeof PruneInput>;
export type PruneOutput = z.input<typeof PruneOutput>;

// ---------------------------------------------------------------- uploads

const JobState = z.enum(['pending', 'in_flight', 'done', 'failed']);
export const QueueStatusOutput = z.object({
  enabled: z.boolean().describe('False when no upload target is configured (no VideoDB key): everything stays local.'),
  targets: z.array(z.string()),
  paused: z
    .object({ code: z.string(), reason: z.string(), since: z.number().int(), by: z.enum(['auth', 'user']) })
    .nullable()
    .describe('Why uploads are not running: TRACED_UPLOAD_AUTH (a rejected key; resumes when the key changes) or TRACED_QUEUE_PAUSED (paused by the user).'),
  counts: z.record(JobState, z.number().int()),
  in_flight: z.number().int(),
  next_attempt_at: z.number().int().nullable(),
  failed: z.array(
    z.object({
      id: z.number().int(),
      target: z.string(),
      kind: z.string(),
      session_id: z.string(),
      channel_id: z.string(),
      segment_seq: z.number().int(),
      attempts: z.number().int(),
      last_error: z.string().nullable(),
      updated_at: z.number().int(),
    }),
  ),
});
export type QueueStatusOutput = z.input<typeof QueueStatusOutput>;

// ---------------------------------------------------------------- the live session

/** The live session as the recorder publishes it for read views (memory, not the DB: rows may lag while writes fail). */
export interface LiveSession {
  id: string;
  profile: Profile;
  state: 'recording' | 'paused' | 'stopping';
  startedAt: number;
  warnings: readonly string[];
  channels: Map<string, { state: ChannelState; detail: string | undefined; events: number; lastEventAt: number | undefined }>;
}
