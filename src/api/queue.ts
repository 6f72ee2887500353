import { z } from 'zod';
import { defineOperation } from './operation.js';
import { QueueStatusOutput } from '../model.js';

export const queueStatus = defineOperation({
  name: 'queue_status',
  title: 'Upload queue status',
  description:
    'How uploads to the cloud target stand: jobs pending, in flight, done and failed (with their last error), and whether the queue is paused and why.',
  input: z.object({}),
  output: QueueStatusOutput,
  readOnly: true,
  run: ({ queue }) => queue.status(),
});

export const queueRetry = defineOperation({
  name: 'queue_retry',
  title: 'Retry failed uploads',
  description: "Put failed upload jobs (all, or one session's) back in the queue with their attempts reset. Returns how many were requeued.",
  input: z.object({ session: z.string().max(64).optional().describe("Only this session's failed jobs.") }),
  output: z.object({ requeued: z.number().int() }),
  readOnly: false,
  run: ({ sessions, queue }, input) => ({ requeued: queue.retry(input.session === undefined ? undefined : sessions.resolve(input.session)) }),
});

export const queuePause = defineOperation({
  name: 'queue_pause',
  title: 'Pause uploads',
  description: 'Stop starting uploads until queue_resume (uploads in flight finish). Recording is not affected.',
  input: z.object({}),
  output: QueueStatusOutput,
  readOnly: false,
  run: ({ queue }) => queue.pauseByUser(),
});

export const queueResume = defineOperation({
  name: 'queue_resume',
  title: 'Resume uploads',
  description: 'Resume a paused upload queue (also after an auth pause, to try the key again).',
  input: z.object({}),
  output: QueueStatusOutput,
  readOnly: false,
  run: ({ queue }) => {
    queue.resume();
    return queue.status();
  },
});
