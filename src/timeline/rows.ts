/** The store's row shapes, as SQLite returns them and as callers pass them in. */
import type { RecordedEvent, SessionState } from '../model.js';

export interface SessionRow {
  id: string;
  project: string;
  label: string | null;
  profile: string;
  state: SessionState;
  started_at: number;
  ended_at: number | null;
  end_offset_ms: number | null;
  warnings: string;
  error: string | null;
  meta: string;
}

export interface ChannelRow {
  session_id: string;
  channel_id: string;
  kind: string;
  store: number;
  state: string;
  detail: string | null;
}

export interface SegmentRow {
  session_id: string;
  channel_id: string;
  seq: number;
  path: string;
  start_offset_ms: number;
  duration_ms: number | null;
  bytes: number | null;
  sha256: string | null;
  state: 'complete' | 'repaired' | 'pruned';
  created_at: number;
}

export interface AnnotationRow {
  id: number;
  session_id: string;
  offset_ms: number;
  ts: number;
  text: string;
  created_at: number;
}

export interface MomentRow {
  id: number;
  session_id: string;
  kind: 'progress' | 'stuck' | 'research' | 'speech' | 'idle';
  start_offset_ms: number;
  end_offset_ms: number;
  score: number | null;
  /** JSON: why this moment (files, commands, counts). */
  data: string;
}

export interface IndexProgressRow {
  session_id: string;
  channel_id: string;
  seq: number;
  kind: 'ocr' | 'speech';
  state: 'done' | 'skipped' | 'failed';
  engine: string | null;
  events: number;
  detail: string | null;
  done_at: number;
}

/** An event ready to be written: `text` is the already-redacted searchable text. */
export interface EventInsert extends RecordedEvent {
  text: string | null;
}

export interface EventQuery {
  sessionId: string;
  fromMs?: number | undefined;
  toMs?: number | undefined;
  types?: string[] | undefined;
  channels?: string[] | undefined;
  afterSeq?: number | undefined;
  /** seq: the writer's order (pages); offset (the default unless afterSeq is given): time order. */
  order?: 'seq' | 'offset' | 'offset_desc' | undefined;
  limit: number;
}

export interface EventDbRow {
  session_id: string;
  seq: number;
  parent_seq: number | null;
  ts: number;
  offset_ms: number;
  channel: string;
  type: string;
  data: string;
}

export function rowToEvent(r: EventDbRow): RecordedEvent {
  return {
    session_id: r.session_id,
    seq: r.seq,
    parent_seq: r.parent_seq,
    ts: r.ts,
    offset_ms: r.offset_ms,
    channel: r.channel,
    type: r.type,
    data: JSON.parse(r.data) as Record<string, unknown>,
  };
}
