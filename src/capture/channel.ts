/**
 * The contract between the session engine and a capture channel. A driver
 * emits events through its context and reports its health; it never touches
 * the store, the clock or the session state itself.
 */
import type { Logger } from 'pino';
import type { ChannelState, EventData } from '../model.js';

export interface ChannelContext {
  readonly sessionId: string;
  readonly project: string;
  /** Where the channel may write its own files (media segments). */
  readonly sessionDir: string;
  /** Wall-clock ms of the session's start: offset 0 of the session clock. */
  readonly startedAt: number;
  readonly logger: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
  /**
   * Records an event on this channel. `ts` is the wall-clock time the thing
   * happened (defaults to now); the engine puts it on the session clock.
   */
  emit(type: string, data: EventData, opts?: { ts?: number }): void;
  /** Reports the channel's health; shown in `status`. */
  setHealth(state: ChannelState, detail?: string): void;
  /** Records a finished, fsync'd media segment (durably, before it returns). */
  registerSegment(seg: SegmentInfo): void;
}

export interface ChannelDriver {
  readonly id: string;
  readonly kind: 'event' | 'media';
  /**
   * Starts capturing. Throws a TracedError when the channel cannot run and the
   * session should not start without it; a channel that merely cannot work on
   * this machine (no display, not a git repo) calls `setHealth('unavailable')`
   * and returns.
   */
  start(ctx: ChannelContext): Promise<void>;
  /** Stops capturing and releases everything; safe to call twice. */
  stop(): Promise<void>;
  /** Media channels stop their capture while the session is paused. */
  pause?(): Promise<void>;
  resume?(): Promise<void>;
  /** Told of every focus change (privacy exclusions). */
  onWindowFocus?(w: { title: string; app: string }): Promise<void>;
}

/** A finished, fsync'd media segment, as a channel reports it. */
export interface SegmentInfo {
  channel: string;
  seq: number;
  /** Relative to the session folder. */
  path: string;
  start_offset_ms: number;
  duration_ms: number;
  bytes: number;
  sha256: string;
  repaired: boolean;
}
