/**
 * What the operations need from the daemon. The session engine implements it;
 * the operations, and through them MCP, IPC and the CLI, see nothing else.
 */
import type { SessionSummary } from '../model.js';
import type { DeviceList } from '../capture/devices.js';
import type {
  GetSessionInput, GetSessionOutput, GetTimelineInput, GetTimelineOutput, IngestEventInput, IngestEventOutput,
  ExportSessionInput, ExportSessionOutput, GetClipInput, GetClipOutput, GetTranscriptInput, GetTranscriptOutput, AnnotateInput, AnnotateOutput, GetFrameInput, GetFrameOutput, ReplayAtInput, ReplayAtOutput, ReplayCursorInput, ReplayCursorOutput, WhatHappenedInput, WhatHappenedOutput, ImportRecordingInput, ImportRecordingOutput, PruneInput, PruneOutput, ListSessionsInput, SearchInput, SearchOutput, StartSessionInput, StartSessionOutput, StatusOutput,
} from './schemas.js';
import type { QueueStatusOutput } from './queue.js';

export interface Engine {
  /** `cwd`: where a relative project path is resolved (the caller's directory). */
  start(input: StartSessionInput, cwd?: string): Promise<StartSessionOutput>;
  stop(ref?: string): Promise<SessionSummary>;
  pause(ref?: string): Promise<SessionSummary>;
  resume(ref?: string): Promise<SessionSummary>;
  status(): StatusOutput;
  listSessions(q: ListSessionsInput, cwd?: string): SessionSummary[];
  getSession(q: GetSessionInput): GetSessionOutput;
  timeline(q: GetTimelineInput): GetTimelineOutput;
  search(q: SearchInput): Promise<SearchOutput>;
  ingest(q: IngestEventInput): Promise<IngestEventOutput>;
  listDevices(): Promise<DeviceList>;
  queueStatus(): QueueStatusOutput;
  queueRetry(session?: string): { requeued: number };
  queuePause(): QueueStatusOutput;
  queueResume(): QueueStatusOutput;
  exportSession(q: ExportSessionInput): Promise<ExportSessionOutput>;
  getClip(q: GetClipInput): Promise<GetClipOutput>;
  getTranscript(q: GetTranscriptInput): GetTranscriptOutput;
  replayAt(q: ReplayAtInput): ReplayAtOutput;
  getFrame(q: GetFrameInput): Promise<GetFrameOutput>;
  annotate(q: AnnotateInput): AnnotateOutput;
  replayCursor(q: ReplayCursorInput): ReplayCursorOutput;
  whatHappened(q: WhatHappenedInput): WhatHappenedOutput;
  importRecording(q: ImportRecordingInput, cwd?: string): ImportRecordingOutput;
  prune(q: PruneInput): PruneOutput;
}
