/** Upload queue shapes and the live session as the recorder publishes it. */
import { z } from 'zod';
import type { ChannelState, Profile } from './base.js';
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
