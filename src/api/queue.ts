import { z } from 'zod';
import { defineOperation } from './operation.js';

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
      id: z.number().int(), target: z.string(), kind: z.string(), session_id: z.string(), channel_id: z.string(), segment_seq: z.number().int(),
      attempts: z.number().int(), last_error: z.string().nullable(), updated_at: z.number().int(),
    }),
  ),
});
export type QueueStatusOutput = z.input<typeof QueueStatusOutput>;

export const queueStatus = defineOperation({
  name: 'queue_status',
  title: 'Upload queue status',
  description: 'How uploads to the cloud target stand: jobs pending, in flight, done and failed (with their last error), and whether the queue is paused and why.',
  input: z.object({}),
  output: QueueStatusOutput,
  readOnly: true,
  run: (engine) => engine.queueStatus(),
});

export const queueRetry = defineOperation({
  name: 'queue_retry',
  title: 'Retry failed uploads',
  description: 'Put failed upload jobs (all, or one session\'s) back in the queue with their attempts reset. Returns how many were requeued.',
  input: z.object({ session: z.string().max(64).optional().describe('Only this session\'s failed jobs.') }),
  output: z.object({ requeued: z.number().int() }),
  readOnly: false,
  run: (engine, input) => engine.queueRetry(input.session),
});

export const queuePause = defineOperation({
  name: 'queue_pause',
  title: 'Pause uploads',
  description: 'Stop starting uploads until queue_resume (uploads in flight finish). Recording is not affected.',
  input: z.object({}),
  output: QueueStatusOutput,
  readOnly: false,
  run: (engine) => engine.queuePause(),
});

export const queueResume = defineOperation({
  name: 'queue_resume',
  title: 'Resume uploads',
  description: 'Resume a paused upload queue (also after an auth pause, to try the key again).',
  input: z.object({}),
  output: QueueStatusOutput,
  readOnly: false,
  run: (engine) => engine.queueResume(),
});
