/** Replay, frames, annotations, the digest, import and retention shapes. */
import { z } from 'zod';
import { SessionRef } from './base.js';
import { MAX_OFFSET_MS, MAX_TS, MaxBytes, TimeArg } from './operations.js';
import { TerminalScreen } from './terminal.js';
// ---------------------------------------------------------------- replay

const At = z
  .union([z.number().int().min(0).max(MAX_TS), z.string().min(1).max(64)])
  .describe('A moment: "+90s", "+1:30", "+1:02:03" or a number of ms from the session start; "14:32" / "14:32:05" on the session\'s day; ISO 8601; epoch ms.');

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
  git_head: z
    .object({
      offset_ms: z.number().int(),
      hash: z.string().nullable(),
      subject: z.string().nullable(),
      branch: z.string().nullable(),
      from: z
        .string()
        .describe('The event it was read from: git.state (the repository as the session found it, or after a resume) or a commit, checkout, reset …'),
      upstream: z.string().nullable().optional(),
      ahead: z.number().int().nullable().optional(),
      behind: z.number().int().nullable().optional(),
      dirty_files: z.number().int().nullable().optional().describe('Tracked files with changes when the state was read (git.state only).'),
    })
    .nullable()
    .describe('HEAD at that moment: the last commit or ref move before it, else the state the session started in.'),
  frame: z
    .object({ display: z.string(), segment_seq: z.number().int() })
    .nullable()
    .describe('The display segment holding the screen at that moment (get_frame returns it as PNG).'),
  terminal: TerminalScreen.nullable()
    .optional()
    .describe('The recorded terminal (traced shell) as it stood at that moment, and the command running then; null when no shell was recorded by then.'),
});

export const GetFrameInput = z.object({
  session: SessionRef,
  at: At,
  display: z
    .string()
    .regex(/^display:\d+$/)
    .optional()
    .describe('Display to show, e.g. "display:1"; the first recorded one otherwise.'),
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

export const AnnotateInput = z.object({ session: SessionRef, at: At, text: z.string().min(1).max(4000).describe('The note (up to 4000 characters).') });
export const AnnotateOutput = z.object({ id: z.number().int(), session_id: z.string(), offset_ms: z.number().int(), ts: z.number().int(), text: z.string() });

export const ReplayCursorInput = z.object({
  session: SessionRef.optional().describe('Session to walk (needed unless cursor is given).'),
  cursor: z.string().max(200).optional().describe('Where a previous call stopped; omit to start at the beginning (or at seek_ms).'),
  seek_ms: z.number().int().min(0).max(MAX_OFFSET_MS).optional().describe('Jump to this offset (events before it are not returned).'),
  advance: z.number().int().min(1).max(1000).optional().describe('Return the next N events.'),
  advance_to_ms: z.number().int().min(0).max(MAX_OFFSET_MS).optional().describe('Return every event up to this offset.'),
  types: z.array(z.string().max(64)).max(32).optional().describe('Only these event types or prefixes.'),
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
  last: z.string().min(1).max(40).optional().describe('"30m", "2h", "1d": from that long ago until now (instead of since/until).'),
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
      failed_commands: z
        .array(
          z.object({
            command: z.string(),
            count: z.number().int().describe('How many times it failed in the range.'),
            offset_ms: z.number().int().describe('First failure.'),
            at: z.string(),
            last_offset_ms: z.number().int(),
            last_at: z.string(),
            exit_codes: z.array(z.number().int()),
          }),
        )
        .describe('Each command that failed, once (commands that differ only in environment assignments, sudo/time or spacing are one).'),
      failures: z
        .array(
          z.object({
            text: z.string().describe('The failure line: a failing test, an assertion, a compiler error, an exception, a package manager error.'),
            tool: z.string().describe('Whose output it is, e.g. vitest, pytest, tsc, node, python, go, npm.'),
            kind: z.enum(['test', 'assertion', 'compile', 'lint', 'runtime', 'package', 'summary', 'error']),
            source: z.enum(['screen', 'terminal']),
            count: z.number().int().describe('Separate sightings (a rerun showing it again counts again).'),
            offset_ms: z.number().int().describe('First seen.'),
            at: z.string(),
            last_offset_ms: z.number().int(),
            command: z.string().nullable().describe('The failed command it was seen while or just after.'),
          }),
        )
        .describe('Each distinct failure line seen, once, in order of first sighting.'),
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

export const PruneInput = z.object({ dry_run: z.boolean().default(true).describe('Only list what the retention policy would delete.') });
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
      indexed: z.boolean().describe('Its on-screen text or speech was read (or nothing will read it).'),
      reason: z.enum(['age', 'disk', 'hard_cap']),
    }),
  ),
  total_bytes: z.number().int(),
  after_bytes: z.number().int(),
  freed_bytes: z.number().int(),
  kept_unuploaded_bytes: z.number().int().describe('Media over the budget kept because it is not uploaded yet.'),
  kept_unindexed_bytes: z
    .number()
    .int()
    .describe(
      'Uploaded (or local-only) media over the budget or past its age kept because it is not indexed yet (audio waiting for a speech engine, a backlog); media not uploaded is in kept_unuploaded_bytes.',
    ),
});
export type PruneInput = z.infer<typeof PruneInput>;
export type PruneOutput = z.input<typeof PruneOutput>;
