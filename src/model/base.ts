/**
 * Domain schemas shared by the engine, the store and the operations: ids, states,
 * events, sessions, devices. Types come from these schemas.
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
  .describe('Session id, a unique prefix of one, or "last".');
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
