/** The one list of operations. A new operation is one definition added here. */
import type { Operation } from './operation.js';
import { getSession, listDevices, listSessions, pauseSession, prune, resumeSession, startSession, status, stopSession } from './sessions.js';
import { getTimeline, getTranscript, ingestEvent, search } from './timeline.js';
import { exportSession, getClip, importRecording } from './export.js';
import { annotate, getFrame, replayAt, replayCursor, whatHappened } from './replay.js';
import { queuePause, queueResume, queueRetry, queueStatus } from './queue.js';

export const operations: readonly Operation[] = [
  startSession,
  stopSession,
  pauseSession,
  resumeSession,
  status,
  listSessions,
  getSession,
  getTimeline,
  search,
  ingestEvent,
  listDevices,
  queueStatus,
  queueRetry,
  queuePause,
  queueResume,
  exportSession,
  getClip,
  getTranscript,
  whatHappened,
  replayAt,
  getFrame,
  annotate,
  replayCursor,
  importRecording,
  prune,
] as unknown as readonly Operation[];

const byName = new Map(operations.map((op) => [op.name, op]));

export function findOperation(name: string): Operation | undefined {
  return byName.get(name);
}

export { invoke, type Operation, type OperationContext } from './operation.js';
export type { Services } from './services.js';
