/**
 * Retention: keeps the disk used by media bounded. The oldest ended sessions'
 * media go first, and only media that is safe to lose: uploaded (every upload
 * job of the segment done) or, with no upload target, local-only; and indexed
 * (its on-screen text or speech read, or no indexer will ever read it — audio
 * waiting for a whisper model is not). Media not yet uploaded or indexed is
 * deleted only past the hard cap, and then loudly. Events,
 * transcripts and on-screen text stay; pruned segments stay in the database
 * marked `pruned`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { PruneInput, PruneOutput } from './model.js';
import type { SegmentRow, SessionRow, Store } from './timeline/store.js';

export interface RetentionPolicy {
  maxDiskGb?: number | undefined;
  maxAgeDays?: number | undefined;
  /** Past this, even media not yet uploaded goes (oldest first). */
  hardCapGb?: number | undefined;
}

export interface PruneItem {
  session_id: string;
  channel_id: string;
  seq: number;
  path: string;
  bytes: number;
  uploaded: boolean;
  indexed: boolean;
  reason: 'age' | 'disk' | 'hard_cap';
}

export interface PrunePlan {
  items: PruneItem[];
  total_bytes: number;
  after_bytes: number;
  /** Media past the disk budget that could not go because it is not uploaded yet. */
  kept_unuploaded_bytes: number;
  /** Uploaded (or local-only) media past the disk budget or its age, kept because it is not indexed yet. */
  kept_unindexed_bytes: number;
}

const GB = 1024 ** 3;

/**
 * What the policy deletes now. `uploaded(segment)` says whether a segment's
 * uploads are all done (true for local-only setups with no upload target).
 */
export function planPrune(
  store: Store,
  policy: RetentionPolicy,
  opts: { now: number; sessionDir: (id: string) => string; uploaded: (s: SegmentRow) => boolean; indexed: (s: SegmentRow) => boolean },
): PrunePlan {
  const sessions = store
    .listSessions({ limit: 1_000_000 })
    .filter((s) => s.ended_at !== null && !['recording', 'paused', 'stopping'].includes(s.state))
    .sort((a, b) => a.started_at - b.started_at);
  const media: (PruneItem & { ended: number })[] = [];
  for (const s of sessions) {
    for (const g of store.segments(s.id)) {
      if (g.state === 'pruned') continue;
      media.push({
        session_id: s.id,
        channel_id: g.channel_id,
        seq: g.seq,
        path: g.path,
        bytes: sizeOf(path.join(opts.sessionDir(s.id), g.path), g.bytes),
        uploaded: opts.uploaded(g),
        indexed: opts.indexed(g),
        reason: 'age',
        ended: (s as SessionRow).ended_at ?? s.started_at,
      });
    }
  }
  let total = media.reduce((a, m) => a + m.bytes, 0);
  const chosen = new Map<string, PruneItem>();
  const take = (m: (typeof media)[number], reason: PruneItem['reason']) => {
    const k = `${m.session_id}\u0000${m.channel_id}\u0000${m.seq}`;
    if (chosen.has(k)) return;
    const { ended: _e, ...item } = m;
    chosen.set(k, { ...item, reason });
    total -= m.bytes;
  };
  if (policy.maxAgeDays !== undefined) {
    const cutoff = opts.now - policy.maxAgeDays * 86_400_000;
    for (const m of media) if (m.ended < cutoff && m.uploaded && m.indexed) take(m, 'age');
  }
  if (policy.maxDiskGb !== undefined) {
    for (const m of media) {
      if (total <= policy.maxDiskGb * GB) break;
      if (m.uploaded && m.indexed) take(m, 'disk');
    }
  }
  if (policy.hardCapGb !== undefined) {
    for (const m of media) {
      if (total <= policy.hardCapGb * GB) break;
      take(m, 'hard_cap');
    }
  }
  const budget = policy.maxDiskGb !== undefined ? policy.maxDiskGb * GB : Number.POSITIVE_INFINITY;
  const kept = media.filter((m) => !chosen.has(`${m.session_id}\u0000${m.channel_id}\u0000${m.seq}`));
  const keptUnuploaded = total > budget ? kept.filter((m) => !m.uploaded).reduce((a, m) => a + m.bytes, 0) : 0;
  const cutoff = policy.maxAgeDays !== undefined ? opts.now - policy.maxAgeDays * 86_400_000 : Number.NEGATIVE_INFINITY;
  // Disjoint from keptUnuploaded: media not uploaded is counted there whatever its indexing.
  const keptUnindexed = kept.filter((m) => m.uploaded && !m.indexed && (total > budget || m.ended < cutoff)).reduce((a, m) => a + m.bytes, 0);
  return {
    items: [...chosen.values()],
    total_bytes: media.reduce((a, m) => a + m.bytes, 0),
    after_bytes: total,
    kept_unuploaded_bytes: keptUnuploaded,
    kept_unindexed_bytes: keptUnindexed,
  };
}

/** Deletes the planned media files and marks their segments pruned. */
export function applyPrune(store: Store, plan: PrunePlan, sessionDir: (id: string) => string): number {
  let freed = 0;
  for (const it of plan.items) {
    const file = path.join(sessionDir(it.session_id), it.path);
    try {
      fs.rmSync(file, { force: true });
      freed += it.bytes;
    } catch {
      continue; // kept for the next run
    }
    store.markSegmentPruned(it.session_id, it.channel_id, it.seq);
  }
  return freed;
}

function sizeOf(file: string, recorded: number | null): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return recorded ?? 0;
  }
}

export interface RetentionDeps {
  store: Store;
  policy: RetentionPolicy;
  sessionDir: (id: string) => string;
  now: () => number;
  log: Logger;
  notify: (topic: string, data: unknown) => void;
  /** Whether a segment is uploaded to every target (true when no target is configured: local-only). */
  uploaded: (s: SegmentRow) => boolean;
  /** Whether local indexing is done with a segment, or will never read it (that kind off, no engine to come). */
  indexed: (s: SegmentRow) => boolean;
}

/** The retention policy as a service: list (dry run) or delete the media it allows. */
export class Retention {
  constructor(private readonly d: RetentionDeps) {}

  /** Applies the policy when one is configured (after a session ends, and hourly); never throws. */
  soon(): void {
    const r = this.d.policy;
    if (r.maxDiskGb === undefined && r.maxAgeDays === undefined && r.hardCapGb === undefined) return;
    try {
      this.prune({ dry_run: false });
    } catch (err) {
      this.d.log.warn({ err }, 'retention failed');
    }
  }

  prune(q: PruneInput): PruneOutput {
    const plan = planPrune(this.d.store, this.d.policy, {
      now: this.d.now(),
      sessionDir: this.d.sessionDir,
      uploaded: this.d.uploaded,
      indexed: this.d.indexed,
    });
    const hard = plan.items.filter((i) => i.reason === 'hard_cap');
    let freed = 0;
    if (!q.dry_run && plan.items.length) {
      freed = applyPrune(this.d.store, plan, this.d.sessionDir);
      if (hard.length) {
        // Loud: media that was never uploaded or indexed is gone.
        this.d.log.error(
          { segments: hard.length, bytes: hard.reduce((a, i) => a + i.bytes, 0) },
          'retention hard cap crossed: deleted media not yet uploaded or indexed',
        );
        this.d.notify('retention.hard_cap', { segments: hard.length, sessions: [...new Set(hard.map((i) => i.session_id))] });
      }
      this.d.log.info({ segments: plan.items.length, freed }, 'retention pruned media');
    }
    return { dry_run: q.dry_run, policy: { ...this.d.policy }, ...plan, freed_bytes: freed };
  }
}
