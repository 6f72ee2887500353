/**
 * Registering a finished media segment: its row and its upload jobs in one
 * transaction. Shared by the live recorder and cold-start recovery.
 */
import type { SegmentInfo } from '../capture/channel.js';
import type { Store } from '../timeline/store.js';

/** What registering needs of the upload queue. */
export interface SegmentQueue {
  readonly targetNames: readonly string[];
  enqueue(key: { target: string; kind: 'segment' | 'export'; session_id: string; channel_id?: string; segment_seq?: number }): void;
}

/** Stores a segment row and, in the same transaction, its upload jobs: no segment is ever registered without them. */
export function registerSegment(store: Store, queue: SegmentQueue | undefined, sessionId: string, seg: SegmentInfo, now: number): boolean {
  return store.transaction(() => {
    const fresh = store.insertSegment({
      session_id: sessionId,
      channel_id: seg.channel,
      seq: seg.seq,
      path: seg.path,
      start_offset_ms: seg.start_offset_ms,
      duration_ms: seg.duration_ms,
      bytes: seg.bytes,
      sha256: seg.sha256,
      state: seg.repaired ? 'repaired' : 'complete',
      created_at: now,
    });
    if (queue)
      for (const target of queue.targetNames) queue.enqueue({ target, kind: 'segment', session_id: sessionId, channel_id: seg.channel, segment_seq: seg.seq });
    return fresh;
  });
}
