/**
 * The wire protocol on the traced socket (documented byte by byte in
 * docs/ipc.md). Frames are node-ipc envelopes, compact JSON followed by a
 * form feed (0x0C):
 *   → {"type":"req","data":{"id":1,"method":"status","params":{}}}
 *   ← {"type":"res","data":{"id":1,"result":{…}}}
 *   ← {"type":"res","data":{"id":1,"error":{"code":"TRACED_…","message":"…"}}}
 *   ← {"type":"notify","data":{"topic":"session.started","data":{…}}}   (after subscribe)
 *   ← {"type":"res","data":{"id":null,"error":{"code":"TRACED_IPC_BAD_FRAME",…}}} (a frame of another type)
 */
import { z } from 'zod';
import { CaptureEnv } from '../model/capture-env.js';

export const REQUEST = 'req';
export const RESPONSE = 'res';
export const NOTIFY = 'notify';

export const RequestId = z.union([z.string().max(128), z.number().int()]);

export const Request = z.object({
  id: RequestId,
  method: z.string().min(1).max(64),
  params: z.unknown().optional(),
  /** The caller's working directory: relative paths in params resolve against it. */
  cwd: z.string().max(4096).optional(),
  /** The caller's capture environment (display, audio server): a session it starts records there. */
  env: CaptureEnv.optional(),
});
export type Request = z.infer<typeof Request>;

export interface WireError {
  code: string;
  message: string;
  data?: Record<string, unknown>;
}

export type Response = { id: string | number | null; result: unknown } | { id: string | number | null; error: WireError };

/** Methods the socket adds to the operations. */
export const SubscribeParams = z.object({
  topics: z
    .array(z.string().min(1).max(64))
    .max(32)
    .default(['*'])
    .describe('Topics or prefixes ending in *: session.*, event.recorded, channel.health, or * for all.'),
});

/** `shutdown`: a graceful stop; `if_idle` refuses (stopping: false) while a session records. */
export const ShutdownParams = z.object({ if_idle: z.boolean().default(false) });

export const IPC_METHODS = ['ping', 'subscribe', 'unsubscribe', 'shutdown'] as const;

export function topicMatches(patterns: readonly string[], topic: string): boolean {
  return patterns.some((p) => p === '*' || p === topic || (p.endsWith('*') && topic.startsWith(p.slice(0, -1))));
}
