/**
 * The durable upload queue (DESIGN §6): one row per (target, kind, session,
 * channel, segment) in `upload_jobs`, so enqueueing twice is a no-op. Jobs
 * are claimed in a transaction, run with bounded concurrency and a per-kind
 * deadline, and marked `done` only once the target returned the remote id.
 * Failures retry with exponential backoff and jitter; 4xx answers (other than
 * auth) are permanent; after `maxAttempts` a job is `failed`, visible and
 * retryable. An auth failure pauses the whole queue — no retry storm — until
 * the target's credentials change or the user resumes it.
 *
 * An attempt can end without knowing what the remote side did (a timeout, a
 * 5xx, a killed daemon). The target keeps what it knows about such an attempt
 * in the job's note (`AttemptNotes`, written before it sends a request that
 * creates something), so the next attempt — in this process or after a
 * restart — resolves the outcome before it uploads again.
 */
import type Database from 'better-sqlite3';
import type { QueueStatusOutput } from '../model.js';
import type { Logger } from 'pino';
import { ErrorCodes } from '../errors.js';

export type JobKind = 'segment' | 'export' | 'close';
export type JobState = 'pending' | 'in_flight' | 'done' | 'failed';

export interface Job {
  id: number;
  target: string;
  kind: JobKind;
  session_id: string;
  channel_id: string;
  segment_seq: number;
  state: JobState;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  remote_id: string | null;
  /**
   * Done: JSON the target returned with the id (stream URLs, indexing results).
   * Not done: `{"pending": note}` when the target left an `AttemptNotes` note.
   */
  remote_meta: string | null;
  created_at: number;
  updated_at: number;
}

export interface RemoteResult {
  id: string;
  meta?: Record<string, unknown>;
}

/** How a failed attempt is treated. */
export type Failure = 'auth' | 'permanent' | 'retry';

/**
 * What a target keeps about its attempts at one job until the job is done:
 * e.g. "a create request was sent at T" or "the server is processing it at
 * this status URL". Survives failed attempts, `queue retry` and restarts; the
 * done mark replaces it.
 */
export interface AttemptNotes {
  /** The last note written for this job, or undefined. Read from the database, so it is current. */
  read(): unknown;
  /**
   * Replaces the note (null clears it) in one committed statement before it
   * returns, so a request sent after it is never unknown to the next attempt.
   * Ignored once the job is done; throws when the database cannot be written.
   */
  write(note: unknown): void;
}

/**
 * Thrown by a target that cannot settle an attempt yet without risking a
 * second copy (e.g. an earlier request may still take effect): the job is
 * tried again after `afterMs`, and the attempt is not counted.
 */
export class DeferAttempt extends Error {
  constructor(
    message: string,
    readonly afterMs: number,
  ) {
    super(message);
  }
}

export interface UploadTarget {
  readonly name: string;
  /**
   * Does the work; resolves to the remote id (and what else the server said)
   * once the server confirmed it. `signal` aborts at the attempt's deadline
   * and at stop; `notes` is the job's note (see AttemptNotes).
   */
  run(job: Job, signal: AbortSignal, notes: AttemptNotes): Promise<string | RemoteResult>;
  classify(err: unknown): Failure;
  /** True when the credentials changed since the last auth failure (the queue then resumes by itself). */
  credentialsChanged?(): boolean;
}

export interface QueueOptions {
  concurrency: number;
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  timeoutMs: Partial<Record<JobKind, number>> & { segment: number };
  /** How often due jobs are looked for when nothing wakes the queue. */
  pollMs?: number;
  now?: () => number;
  random?: () => number;
}

export interface QueuePause {
  code: string;
  reason: string;
  since: number;
  /** `auth`: resumes when the key changes; `user`: resumes on `queue resume`. */
  by: 'auth' | 'user';
}

/** The queue's state as `queue_status` reports it (its schema is in model.ts). */
export type QueueStatus = QueueStatusOutput;

export interface EnqueueInput {
  target: string;
  kind: JobKind;
  session_id: string;
  channel_id?: string;
  segment_seq?: number;
}

/** Marker in `last_error` for a job a stopped daemon left in flight: its upload may have landed. */
export const INTERRUPTED = 'interrupted: the daemon stopped during this attempt';

export class UploadQueue {
  private readonly st;
  private readonly claimTx: (limit: number, now: number) => Job[];
  private readonly completeTx: (done: { id: number; remoteId: string; meta: string | null }[], now: number) => void;
  private completions: { job: Job; remoteId: string; meta: string | null; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private readonly running = new Map<number, { ctl: AbortController; done: Promise<void> }>();
  private pausedBy: QueuePause | undefined;
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private pumping = false;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly listeners = new Set<(job: Job) => void>();

  constructor(
    private readonly db: Database.Database,
    private readonly targets: ReadonlyMap<string, UploadTarget>,
    private readonly opts: QueueOptions,
    private readonly log: Logger,
    private readonly notify: (topic: string, data: unknown) => void = () => undefined,
  ) {
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.st = {
      enqueue: db.prepare(
        `INSERT INTO upload_jobs (target, kind, session_id, channel_id, segment_seq, state, attempts, next_attempt_at, created_at, updated_at)
         VALUES (@target, @kind, @session_id, @channel_id, @segment_seq, 'pending', 0, @now, @now, @now)
         ON CONFLICT (target, kind, session_id, channel_id, segment_seq) DO NOTHING`,
      ),
      due: db.prepare("SELECT * FROM upload_jobs WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?"),
      markInFlight: db.prepare("UPDATE upload_jobs SET state = 'in_flight', attempts = attempts + 1, updated_at = ? WHERE id = ? AND state = 'pending'"),
      done: db.prepare("UPDATE upload_jobs SET state = 'done', remote_id = ?, remote_meta = ?, last_error = NULL, updated_at = ? WHERE id = ?"),
      // An export waits until none of its session's segment uploads to the same target is still to go.
      segmentsLeft: db.prepare(
        "SELECT COUNT(*) AS n FROM upload_jobs WHERE session_id = ? AND target = ? AND kind = 'segment' AND state IN ('pending', 'in_flight')",
      ),
      defer: db.prepare('UPDATE upload_jobs SET next_attempt_at = ? WHERE id = ?'),
      find: db.prepare('SELECT * FROM upload_jobs WHERE target = ? AND kind = ? AND session_id = ? AND channel_id = ? AND segment_seq = ?'),
      retryLater: db.prepare("UPDATE upload_jobs SET state = 'pending', next_attempt_at = ?, last_error = ?, updated_at = ? WHERE id = ?"),
      // An auth failure is the key's fault, not the job's: the attempt is given back.
      giveBack: db.prepare("UPDATE upload_jobs SET state = 'pending', attempts = MAX(0, attempts - 1), last_error = ?, updated_at = ? WHERE id = ?"),
      // A deferred attempt is not a failure: given back, and tried again when the target said.
      deferAttempt: db.prepare(
        "UPDATE upload_jobs SET state = 'pending', attempts = MAX(0, attempts - 1), next_attempt_at = ?, last_error = ?, updated_at = ? WHERE id = ?",
      ),
      readNote: db.prepare('SELECT state, remote_meta FROM upload_jobs WHERE id = ?'),
      writeNote: db.prepare("UPDATE upload_jobs SET remote_meta = ?, updated_at = ? WHERE id = ? AND state != 'done'"),
      fail: db.prepare("UPDATE upload_jobs SET state = 'failed', last_error = ?, updated_at = ? WHERE id = ?"),
      recover: db.prepare(`UPDATE upload_jobs SET state = 'pending', last_error = '${INTERRUPTED}', updated_at = ? WHERE state = 'in_flight'`),
      counts: db.prepare('SELECT state, COUNT(*) AS n FROM upload_jobs GROUP BY state'),
      nextDue: db.prepare("SELECT MIN(next_attempt_at) AS t FROM upload_jobs WHERE state = 'pending'"),
      failed: db.prepare(
        "SELECT id, target, kind, session_id, channel_id, segment_seq, attempts, last_error, updated_at FROM upload_jobs WHERE state = 'failed' ORDER BY id LIMIT 50",
      ),
      retryAll: db.prepare("UPDATE upload_jobs SET state = 'pending', attempts = 0, next_attempt_at = ?, updated_at = ? WHERE state = 'failed'"),
      retrySession: db.prepare(
        "UPDATE upload_jobs SET state = 'pending', attempts = 0, next_attempt_at = ?, updated_at = ? WHERE state = 'failed' AND session_id = ?",
      ),
      sessionCounts: db.prepare('SELECT state, COUNT(*) AS n FROM upload_jobs WHERE session_id = ? GROUP BY state'),
      get: db.prepare('SELECT * FROM upload_jobs WHERE id = ?'),
      backfillExports: db.prepare(
        `INSERT INTO upload_jobs (target, kind, session_id, channel_id, segment_seq, state, attempts, next_attempt_at, created_at, updated_at)
         SELECT @target, 'export', s.id, '', -1, 'pending', 0, @now, @now, @now FROM sessions s
         WHERE s.state IN ('ended', 'recovered', 'failed') AND EXISTS (SELECT 1 FROM segments g WHERE g.session_id = s.id AND g.state != 'pruned')
         ON CONFLICT (target, kind, session_id, channel_id, segment_seq) DO NOTHING`,
      ),
      backfill: db.prepare(
        `INSERT INTO upload_jobs (target, kind, session_id, channel_id, segment_seq, state, attempts, next_attempt_at, created_at, updated_at)
         SELECT @target, 'segment', session_id, channel_id, seq, 'pending', 0, @now, @now, @now FROM segments WHERE state != 'pruned'
         ON CONFLICT (target, kind, session_id, channel_id, segment_seq) DO NOTHING`,
      ),
    };
    this.completeTx = db.transaction((done: { id: number; remoteId: string; meta: string | null }[], now: number) => {
      for (const d of done) this.st.done.run(d.remoteId, d.meta, now, d.id);
    });
    this.claimTx = db.transaction((limit: number, now: number) => {
      const rows = this.st.due.all(now, limit) as Job[];
      const claimed: Job[] = [];
      for (const r of rows) {
        if (r.kind !== 'segment' && (this.st.segmentsLeft.get(r.session_id, r.target) as { n: number }).n > 0) {
          this.st.defer.run(now + 1000, r.id);
          continue;
        }
        if (this.st.markInFlight.run(now, r.id).changes === 1) claimed.push({ ...r, state: 'in_flight', attempts: r.attempts + 1 });
      }
      return claimed;
    });
  }

  get targetNames(): string[] {
    return [...this.targets.keys()];
  }

  hasTarget(name: string): boolean {
    return this.targets.has(name);
  }

  /** Adds a job unless the same one exists; true when it was new. Call inside the transaction that stores what it uploads. */
  enqueue(j: EnqueueInput): boolean {
    const fresh =
      this.st.enqueue.run({
        target: j.target,
        kind: j.kind,
        session_id: j.session_id,
        channel_id: j.channel_id ?? '',
        segment_seq: j.segment_seq ?? -1,
        now: this.now(),
      }).changes === 1;
    if (fresh) this.wake();
    return fresh;
  }

  /** Many jobs in one transaction (recovery, backfill, bulk registration); returns how many were new. */
  enqueueMany(jobs: readonly EnqueueInput[]): number {
    const n = this.db.transaction(() => jobs.reduce((a, j) => a + (this.enqueue(j) ? 1 : 0), 0))();
    return n;
  }

  /** A job known to be done (from a session folder's uploads.jsonl after the database was lost). */
  restoreDone(j: EnqueueInput, remoteId: string, meta?: string | null): void {
    const now = this.now();
    this.db
      .prepare(
        `INSERT INTO upload_jobs (target, kind, session_id, channel_id, segment_seq, state, attempts, next_attempt_at, remote_id, remote_meta, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, 'done', 1, ?, ?, ?, ?, ?)
         ON CONFLICT (target, kind, session_id, channel_id, segment_seq) DO UPDATE SET state = 'done', remote_id = excluded.remote_id, remote_meta = excluded.remote_meta`,
      )
      .run(j.target, j.kind, j.session_id, j.channel_id ?? '', j.segment_seq ?? -1, now, remoteId, meta ?? null, now, now);
  }

  /** Remote video id → session, for every session exported to `target`. */
  exportedVideos(target: string): Map<string, string> {
    const rows = this.db.prepare("SELECT remote_id, session_id FROM upload_jobs WHERE target = ? AND kind = 'export' AND state = 'done'").all(target) as {
      remote_id: string;
      session_id: string;
    }[];
    return new Map(rows.map((r) => [r.remote_id, r.session_id]));
  }

  /** The one job for this key, if any. */
  find(j: EnqueueInput): Job | undefined {
    return this.st.find.get(j.target, j.kind, j.session_id, j.channel_id ?? '', j.segment_seq ?? -1) as Job | undefined;
  }

  /** Every stored segment gets a job for `target` (segments recorded before a key was configured, or registered by recovery). */
  backfill(target: string): number {
    const now = this.now();
    return this.st.backfill.run({ target, now }).changes + this.st.backfillExports.run({ target, now }).changes;
  }

  /** Cold start: jobs a stopped daemon left in flight go back to pending (marked, so the target can look for an upload that landed). */
  recoverInFlight(): number {
    return this.st.recover.run(this.now()).changes;
  }

  /** Claims up to `limit` due jobs in one transaction. */
  claim(limit: number): Job[] {
    return this.claimTx(limit, this.now());
  }

  /**
   * Marks a job done with its remote id. Completions arriving together share
   * one transaction (one fsync); the promise resolves once it committed.
   */
  complete(job: Job, remoteId: string, meta?: Record<string, unknown>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.completions.push({ job, remoteId, meta: meta === undefined ? null : JSON.stringify(meta), resolve, reject });
      if (this.completions.length === 1) setImmediate(() => this.flushCompletions());
    });
  }

  private flushCompletions(): void {
    const batch = this.completions;
    this.completions = [];
    if (!batch.length) return;
    const now = this.now();
    try {
      this.completeTx(
        batch.map((b) => ({ id: b.job.id, remoteId: b.remoteId, meta: b.meta })),
        now,
      );
    } catch (err) {
      for (const b of batch) b.reject(err);
      return;
    }
    for (const b of batch) {
      this.emit({ ...b.job, state: 'done', remote_id: b.remoteId, remote_meta: b.meta });
      b.resolve();
    }
  }

  /** Records a failed attempt as its class says: retry later, fail for good, or pause the queue on auth. */
  failed(job: Job, err: unknown, failure: Failure): void {
    const message = errorText(err);
    const now = this.now();
    if (failure === 'auth') {
      this.st.giveBack.run(message, now, job.id);
      this.pause('auth', ErrorCodes.UPLOAD_AUTH, `${job.target} refused the API key: ${message}; set a valid key (videodb.apiKey or VIDEO_DB_API_KEY)`);
      return;
    }
    if (failure === 'permanent' || job.attempts >= this.opts.maxAttempts) {
      const why = failure === 'permanent' ? message : `${message} (gave up after ${job.attempts} attempts)`;
      this.st.fail.run(why, now, job.id);
      this.log.warn({ job: job.id, session: job.session_id, channel: job.channel_id, seq: job.segment_seq, err: why }, 'upload failed for good');
      this.emit({ ...job, state: 'failed', last_error: why });
      return;
    }
    const delay = this.backoff(job.attempts);
    this.st.retryLater.run(now + delay, message, now, job.id);
    this.log.info({ job: job.id, attempt: job.attempts, retryInMs: delay, err: message }, 'upload attempt failed; retrying');
  }

  /** base × 2^(attempt−1), capped, ±25% jitter so a fleet of jobs does not retry in lockstep. */
  backoff(attempt: number): number {
    const raw = Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** Math.max(0, attempt - 1));
    return Math.round(raw * (0.75 + this.random() * 0.5));
  }

  pause(by: QueuePause['by'], code: string, reason: string): void {
    if (this.pausedBy?.by === by && this.pausedBy.reason === reason) return;
    this.pausedBy = { by, code, reason, since: this.now() };
    this.log.warn({ pause: this.pausedBy }, 'upload queue paused');
    this.notify('queue.paused', this.pausedBy);
  }

  resume(): void {
    if (!this.pausedBy) return;
    this.log.info({ was: this.pausedBy }, 'upload queue resumed');
    this.pausedBy = undefined;
    this.notify('queue.resumed', {});
    this.wake();
  }

  /** Pauses uploads until `resume` (jobs in flight finish); returns the new status. */
  pauseByUser(): QueueStatus {
    this.pause('user', ErrorCodes.QUEUE_PAUSED, 'paused by the user (traced queue resume)');
    return this.status();
  }

  /** The session id of each exported video id, for cloud search hits. */
  sessionsByVideo(): Map<string, string> {
    return this.exportedVideos('videodb');
  }

  /** Failed jobs (all, or one session's) back to pending with their attempts reset. */
  retry(sessionId?: string): number {
    const now = this.now();
    const n = sessionId ? this.st.retrySession.run(now, now, sessionId).changes : this.st.retryAll.run(now, now).changes;
    if (n) this.wake();
    return n;
  }

  status(): QueueStatus {
    const counts: Record<JobState, number> = { pending: 0, in_flight: 0, done: 0, failed: 0 };
    for (const r of this.st.counts.all() as { state: JobState; n: number }[]) counts[r.state] = r.n;
    const next = (this.st.nextDue.get() as { t: number | null }).t;
    return {
      enabled: this.targetNames.length > 0,
      targets: this.targetNames,
      paused: this.pausedBy ?? null,
      counts,
      in_flight: this.running.size,
      next_attempt_at: next,
      failed: this.st.failed.all() as QueueStatus['failed'],
    };
  }

  sessionCounts(sessionId: string): Record<JobState, number> {
    const counts: Record<JobState, number> = { pending: 0, in_flight: 0, done: 0, failed: 0 };
    for (const r of this.st.sessionCounts.all(sessionId) as { state: JobState; n: number }[]) counts[r.state] = r.n;
    return counts;
  }

  /** Calls `fn` for every job that reaches done or failed; returns the unsubscribe. */
  onSettled(fn: (job: Job) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(job: Job): void {
    this.notify('upload.settled', {
      id: job.id,
      target: job.target,
      kind: job.kind,
      session: job.session_id,
      channel: job.channel_id,
      seq: job.segment_seq,
      state: job.state,
      remote_id: job.remote_id,
      error: job.last_error,
    });
    for (const l of this.listeners) l(job);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const tick = () => {
      this.timer = setTimeout(tick, this.opts.pollMs ?? 1000);
      this.timer.unref();
      if (this.pausedBy?.by === 'auth' && [...this.targets.values()].some((t) => t.credentialsChanged?.())) this.resume();
      this.pump();
    };
    tick();
  }

  /** Stops claiming, aborts attempts in flight (they go back to pending) and waits for them. */
  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    for (const r of this.running.values()) r.ctl.abort();
    await Promise.all([...this.running.values()].map((r) => r.done));
  }

  private wake(): void {
    if (this.started) setImmediate(() => this.pump());
  }

  private pump(): void {
    if (!this.started || this.pausedBy || this.pumping || this.targets.size === 0) return;
    this.pumping = true;
    try {
      const free = this.opts.concurrency - this.running.size;
      if (free <= 0) return;
      for (const job of this.claim(free)) this.launch(job);
    } catch (err) {
      this.log.error({ err }, 'claiming upload jobs failed');
    } finally {
      this.pumping = false;
    }
  }

  private launch(job: Job): void {
    const ctl = new AbortController();
    const done = this.attempt(job, ctl)
      .catch((err: unknown) => this.log.error({ err, job: job.id }, 'an upload attempt could not be recorded; the job is retried after a restart'))
      .finally(() => {
        this.running.delete(job.id);
        this.wake();
      });
    this.running.set(job.id, { ctl, done });
  }

  private async attempt(job: Job, ctl: AbortController): Promise<void> {
    const target = this.targets.get(job.target);
    if (!target) {
      this.st.fail.run(`no target named ${job.target} is configured`, this.now(), job.id);
      return;
    }
    const timeoutMs = this.opts.timeoutMs[job.kind] ?? this.opts.timeoutMs.segment;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new AttemptTimeout(`no answer within ${timeoutMs} ms`)); // settles the race before the abort below does
        ctl.abort();
      }, timeoutMs);
    });
    const aborted = new Promise<never>((_, reject) => ctl.signal.addEventListener('abort', () => reject(new AttemptAborted('stopped')), { once: true }));
    try {
      const result = await Promise.race([target.run(job, ctl.signal, this.notes(job.id)), deadline, aborted]);
      const remote = typeof result === 'string' ? { id: result } : result;
      if (!remote?.id) throw new Error('the target returned no remote id');
      try {
        await this.complete(job, remote.id, remote.meta);
      } catch (err) {
        // Uploaded, but the done mark could not be written (full disk): back to pending, so the
        // next attempt finds the remote copy by name instead of losing track of it.
        this.log.error({ err, job: job.id }, 'could not record a finished upload');
        this.st.giveBack.run(INTERRUPTED, this.now(), job.id);
      }
      return;
    } catch (err) {
      if (err instanceof AttemptAborted && !(err instanceof AttemptTimeout)) {
        // Daemon stopping: the job goes back to pending, marked as possibly landed.
        this.st.giveBack.run(INTERRUPTED, this.now(), job.id);
        return;
      }
      if (err instanceof DeferAttempt) {
        const now = this.now();
        this.st.deferAttempt.run(now + Math.max(0, err.afterMs), errorText(err), now, job.id);
        this.log.info({ job: job.id, retryInMs: err.afterMs, why: err.message }, 'upload attempt deferred');
        return;
      }
      this.failed(job, err, err instanceof AttemptTimeout ? 'retry' : safeClassify(target, err));
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  job(id: number): Job | undefined {
    return this.st.get.get(id) as Job | undefined;
  }

  /** The note of job `id`, stored as `{"pending": note}` in remote_meta until the job is done. */
  private notes(id: number): AttemptNotes {
    return {
      read: () => {
        const row = this.st.readNote.get(id) as { state: JobState; remote_meta: string | null } | undefined;
        if (!row?.remote_meta || row.state === 'done') return undefined;
        try {
          return (JSON.parse(row.remote_meta) as { pending?: unknown }).pending;
        } catch {
          return undefined; // not a note (a done job's meta restored by hand); nothing known
        }
      },
      write: (note) => {
        this.st.writeNote.run(note === null || note === undefined ? null : JSON.stringify({ pending: note }), this.now(), id);
      },
    };
  }
}

class AttemptAborted extends Error {}
class AttemptTimeout extends AttemptAborted {}

function safeClassify(t: UploadTarget, err: unknown): Failure {
  try {
    return t.classify(err);
  } catch {
    return 'retry';
  }
}

/** One line for `last_error`: the message and the causes under it. */
export function errorText(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let i = 0; i < 4 && e; i++) {
    const m = e instanceof Error ? e.message : typeof e === 'string' ? e : JSON.stringify(e);
    if (m && !parts.includes(m)) parts.push(m.trim());
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(' ← ').slice(0, 500) || 'unknown error';
}
