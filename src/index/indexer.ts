/**
 * The local indexer: a background worker that turns finished segments into
 * searchable events — on-screen text from display segments, transcripts from
 * audio segments. One segment at a time, oldest first, its helper processes
 * at low CPU priority (`nice`) so capture never starves. A segment's events
 * and its progress row are written in one transaction: a crash or restart
 * redoes the segment it was in, never twice and never skipping one.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { run } from '../capture/proc.js';
import { isDiskFull } from '../errors.js';
import type { IndexerStatus } from '../model.js';
import type { IndexProgressRow, SegmentRow, Store } from '../timeline/store.js';
import { redactPieces, redactRecognized } from '../timeline/redact.js';
import { BACKOFF, type BackoffPolicy, deferral, Machine } from './backoff.js';
import { CpuMeter } from './cost.js';
import { sampleFrames } from './frames.js';
import { type OcrEngine, recognizeAll } from './ocr.js';
import { type IndexedEvent, planReads, screenTextEvents } from './screen-text.js';
import { type SpeechEngine, transcribeRegions, voicedRegions } from './speech.js';

export type { IndexedEvent } from './screen-text.js';

export interface IndexerOptions {
  store: Store;
  sessionDir: (sessionId: string) => string;
  tmpDir: string;
  ffmpeg: () => Promise<string>;
  ocr: { engine: OcrEngine | undefined; reason: string };
  speech: { engine: SpeechEngine | undefined; reason: string };
  /**
   * Looks for a better speech engine than the current one (a whisper model
   * pulled while the daemon runs): asked at most every `rechooseMs` while the
   * engine is not whisper; a whisper engine it returns takes over from the
   * next audio segment on.
   */
  rechooseSpeech?: () => Promise<{ engine: SpeechEngine | undefined; reason: string } | undefined>;
  rechooseMs?: number;
  /** Frame sampling interval for on-screen text. */
  ocrIntervalMs: number;
  /** Frames whose every thumbnail block is within this many grey levels of the last one read are skipped. */
  duplicateThreshold: number;
  /** How many screen heights a minute of recording may read (see screen-text.ts); OCR_BUDGET when absent. */
  ocrBudget?: { screensPerMinute: number; burst: number };
  /** Audio quieter than this level (dBFS, per 20 ms) never counts as speech; the gate adapts above it to each segment's noise. */
  silenceDb: number;
  /** Writes a segment's events and its progress row in one transaction. */
  commit: (sessionId: string, events: IndexedEvent[], progress: IndexProgressRow) => void;
  log: Logger;
  idleMs?: number;
  /** True while a session records: only then may indexing be deferred (backoff.ts). Never deferred without it. */
  recording?: () => boolean;
  backoff?: BackoffPolicy;
}

export type { IndexerStatus } from '../model.js';

const DISK_FULL_RETRY_MS = 10_000;
/** Frames of a segment's end kept for dating text first read in the next one (a minute at 2 fps). */
const MAX_TAIL_FRAMES = 120;
/** Speech engines take 16 kHz mono. */
const RATE = 16_000;

/** What the indexer reads, by channel (SQLite GLOB patterns). */
export const INDEX_KINDS = [
  { kind: 'ocr' as const, glob: 'display:*' },
  { kind: 'speech' as const, glob: '[ms][iy]*:*' }, // mic:* and system_audio:*
];

export class Indexer {
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly wakers = new Set<() => void>();
  private readonly ctls = new Set<AbortController>();
  private readonly current = new Map<'ocr' | 'speech', NonNullable<IndexerStatus['current']>>();
  private done = 0;
  private readonly backlog = new Map<'ocr' | 'speech', { n: number; ms: number }>();
  private readonly stale = new Set<'ocr' | 'speech'>(['ocr', 'speech']);
  /**
   * Per session and display: the thumbnail last read (a still screen across segments is not read again)
   * and the frames after it, so text first read in the next segment is dated where it appeared.
   */
  private readonly screens = new Map<
    string,
    { seq: number; endMs: number; last: Uint8Array | undefined; budget: { tokens: number; at: number }; tail: { at: number; px: Uint8Array }[] }
  >();
  /** The speech engine in use: the one chosen at start until a whisper model turns up (rechooseSpeech). */
  private speech: IndexerOptions['speech'];
  private lookedForSpeech = 0;

  private readonly machine = new Machine();
  private readonly deferred = new Map<'ocr' | 'speech', string>();
  /** CPU per stage since the daemon started (status.indexer.cost). */
  private readonly meter = new CpuMeter();

  constructor(private readonly o: IndexerOptions) {
    this.speech = o.speech;
  }

  /** One worker per kind: screen text and speech run side by side (two cores; capture needs ~5% of one). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loops = INDEX_KINDS.map(({ kind, glob }) => this.run(kind, glob));
  }

  /** Stops after aborting the segments in progress (they are redone at the next start). */
  async stop(): Promise<void> {
    this.running = false;
    for (const c of this.ctls) c.abort();
    for (const w of this.wakers) w();
    await Promise.all(this.loops);
    await this.o.ocr.engine?.close?.();
    await this.speech.engine?.close?.();
  }

  /** Whether segments of `kind` will be read: there is an engine, or (speech) one is looked for (a whisper model to be pulled). */
  reads(kind: 'ocr' | 'speech'): boolean {
    return kind === 'ocr' ? this.o.ocr.engine !== undefined : this.speech.engine !== undefined || this.o.rechooseSpeech !== undefined;
  }

  /** Swaps in whisper once a model for it exists (see rechooseSpeech). */
  private async upgradeSpeech(): Promise<void> {
    const look = this.o.rechooseSpeech;
    if (!look || this.speech.engine?.windowS || Date.now() - this.lookedForSpeech < (this.o.rechooseMs ?? 30_000)) return;
    this.lookedForSpeech = Date.now();
    try {
      const next = await look();
      if (!next?.engine?.windowS) {
        await next?.engine?.close?.();
        return;
      }
      const old = this.speech.engine;
      this.speech = next;
      await old?.close?.();
      this.o.log.info({ speech: next.reason }, 'speech engine upgraded');
    } catch (err) {
      this.o.log.warn({ err }, 'could not switch to a better speech engine');
    }
  }

  /** New segments: look now instead of at the next idle poll. */
  wake(): void {
    this.stale.add('ocr');
    this.stale.add('speech');
    for (const w of this.wakers) w();
  }

  /** Counts what is left to index of one kind, when something changed since the last count. */
  private countBacklog(kind: 'ocr' | 'speech', glob: string): void {
    if (!this.stale.has(kind)) return;
    this.stale.delete(kind);
    try {
      this.backlog.set(kind, this.o.store.indexBacklog(kind, glob));
    } catch (err) {
      this.o.log.warn({ err }, 'could not count the indexing backlog');
    }
  }

  /**
   * Cheap at any size of history: the backlog is counted by the indexer's own
   * loop when segments arrive or finish, never by a status call.
   */
  status(): IndexerStatus {
    const part = (kind: 'ocr' | 'speech', _glob: string, e: { engine: { name: string } | undefined; reason: string }) => {
      const b = this.backlog.get(kind) ?? { n: 0, ms: 0 };
      return e.engine
        ? { engine: e.engine.name, reason: e.reason, pending_segments: b.n, behind_ms: b.ms, waiting_segments: 0, waiting_ms: 0 }
        : { engine: null, reason: e.reason, pending_segments: 0, behind_ms: 0, waiting_segments: b.n, waiting_ms: b.ms };
    };
    return {
      ocr: part('ocr', 'display:*', this.o.ocr),
      speech: part('speech', '[ms][iy]*:*', this.speech),
      current: this.current.get('ocr') ?? this.current.get('speech') ?? null,
      indexed_segments: this.done,
      deferred: this.deferred.get('ocr') ?? this.deferred.get('speech') ?? null,
      cost: this.meter.snapshot(),
    };
  }

  /** Where helpers reaped while the OCR loop is between its own helpers belong: to speech when it is mid-segment. */
  private otherLoop(): 'speech' | 'other' {
    return this.current.has('speech') ? 'speech' : 'other';
  }

  /** Why this kind waits now (backoff.ts), noted for status; undefined when it goes ahead. */
  private waitReason(kind: 'ocr' | 'speech'): string | undefined {
    const recording = this.o.recording?.() ?? false;
    const why = recording ? deferral(this.o.backoff ?? BACKOFF, this.machine.state(true, this.backlog.get(kind)?.ms ?? 0)) : undefined;
    if (why) this.deferred.set(kind, why);
    else this.deferred.delete(kind);
    return why;
  }

  private async run(kind: 'ocr' | 'speech', glob: string): Promise<void> {
    if (kind === 'ocr' ? !this.o.ocr.engine : !this.speech.engine && !this.o.rechooseSpeech) return;
    while (this.running) {
      // Only when asked: the first look for a segment stays synchronous with start() (status shows it at once).
      if (kind === 'speech' && this.o.rechooseSpeech) await this.upgradeSpeech();
      const engine = kind === 'ocr' ? this.o.ocr.engine : this.speech.engine;
      // Without an engine (speech waiting for a whisper model) the count is what waits for one.
      this.countBacklog(kind, glob);
      const why = engine ? this.waitReason(kind) : undefined;
      const seg = engine && !why ? this.o.store.nextToIndex(kind, glob) : undefined;
      if (seg) {
        // index() handles its own failures; this guards the loop against anything else (a closed store).
        this.stale.add(kind);
        await this.index(kind, seg).catch(async (err: unknown) => {
          this.o.log.error({ err }, 'indexer error');
          await new Promise((r) => setTimeout(r, DISK_FULL_RETRY_MS));
        });
        continue;
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(t);
          this.wakers.delete(wake);
          resolve();
        };
        const t = setTimeout(wake, this.o.idleMs ?? 2000);
        this.wakers.add(wake);
      });
    }
  }

  private async index(kind: 'ocr' | 'speech', seg: SegmentRow): Promise<void> {
    this.current.set(kind, { session: seg.session_id, channel: seg.channel_id, seq: seg.seq, kind });
    const ctl = new AbortController();
    this.ctls.add(ctl);
    const base = { session_id: seg.session_id, channel_id: seg.channel_id, seq: seg.seq, kind };
    const work = fs.mkdtempSync(path.join(this.o.tmpDir, `index-${kind}-`));
    try {
      const file = path.join(this.o.sessionDir(seg.session_id), seg.path);
      if (!fs.existsSync(file)) {
        this.o.commit(seg.session_id, [], { ...base, state: 'skipped', engine: null, events: 0, detail: 'segment file missing', done_at: Date.now() });
        return;
      }
      const r =
        kind === 'ocr'
          ? await this.ocrSegment(seg, file, work, ctl.signal)
          : await this.meter.child('speech', () => this.speechSegment(seg, file, work, ctl.signal));
      if (!this.running) return; // stopped mid-way: nothing written, redone next time
      this.o.commit(seg.session_id, r.events, {
        ...base,
        state: r.skipped ? 'skipped' : 'done',
        engine: r.engine,
        events: r.events.length,
        detail: r.detail ?? null,
        done_at: Date.now(),
      });
      this.done++;
      this.meter.media[kind] += seg.duration_ms ?? 0;
    } catch (err) {
      if (!this.running) return;
      if (isDiskFull(err)) {
        // Nothing is wrong with the segment: leave it for later, when there is room again.
        this.o.log.warn({ err, segment: base }, 'indexing paused: the disk is full');
        await new Promise((r) => setTimeout(r, DISK_FULL_RETRY_MS));
        return;
      }
      this.o.log.warn({ err, segment: base }, 'indexing a segment failed');
      try {
        this.o.commit(seg.session_id, [], {
          ...base,
          state: 'failed',
          engine: null,
          events: 0,
          detail: (err as Error).message.slice(0, 500),
          done_at: Date.now(),
        });
      } catch (e2) {
        this.o.log.error({ err: e2 }, 'could not record the failure; the segment is tried again later');
        await new Promise((r) => setTimeout(r, DISK_FULL_RETRY_MS));
      }
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
      this.current.delete(kind);
      this.ctls.delete(ctl);
    }
  }

  private async ocrSegment(
    seg: SegmentRow,
    file: string,
    work: string,
    signal: AbortSignal,
  ): Promise<{ events: IndexedEvent[]; engine: string; skipped?: boolean; detail?: string }> {
    const engine = this.o.ocr.engine as OcrEngine;
    const ff = await this.o.ffmpeg();
    const sample = () => sampleFrames({ ffmpeg: ff, nice: 'nice', file, work, intervalMs: this.o.ocrIntervalMs, signal });
    const { reads, thumbs } = await this.meter.child('frame_decode', sample, this.otherLoop());
    // Frames on the session clock. The frames of the previous segment after its last read one come first when this
    // segment continues it: text that appeared there and was first read here is dated where it appeared.
    const key = `${seg.session_id}\u0000${seg.channel_id}`;
    const prior = this.screens.get(key);
    const carried = prior && prior.seq === seg.seq - 1 && Math.abs(prior.endMs - seg.start_offset_ms) <= 1000 ? prior.tail : [];
    const frames = [...carried, ...thumbs.map((t) => ({ at: seg.start_offset_ms + t.ptsMs, px: t.px }))];
    const segEnd = seg.start_offset_ms + (seg.duration_ms ?? 0);
    // 1. From the thumbnails alone: which frames to read, and which band of each.
    const plan = this.meter.self('change_detection', () => planReads(reads, frames, carried.length, seg.start_offset_ms, prior, this.o));
    // 2. All of them in one run of the engine.
    const results = await this.meter.child(
      'ocr',
      () =>
        recognizeAll(
          engine,
          plan.reads.map((p) => p.file),
          signal,
        ),
      this.otherLoop(),
    );
    // 3. Each line dated to the first frame it was on.
    const events = this.meter.self('change_detection', () =>
      plan.reads.flatMap((p, i) => {
        const res = results[i];
        if (!res?.text.trim()) return [];
        const next = reads[p.k + 1];
        const nextRead = next ? seg.start_offset_ms + next.ptsMs : Math.max(p.readAt, segEnd);
        return screenTextEvents(seg.channel_id, engine.name, p, res, frames, nextRead, this.o.duplicateThreshold);
      }),
    );
    const lastRead = reads.length ? carried.length + (reads[reads.length - 1] as { thumb: number }).thumb : -1;
    this.screens.set(key, { seq: seg.seq, endMs: segEnd, last: plan.last, budget: plan.budget, tail: frames.slice(lastRead + 1).slice(-MAX_TAIL_FRAMES) });
    if (this.screens.size > 64) this.screens.delete(this.screens.keys().next().value as string);
    events.sort((a, b) => a.offset_ms - b.offset_ms);
    const { skipped, deferred, cropped } = plan;
    return { events, engine: engine.name, detail: `${reads.length} frames, ${skipped} unchanged, ${deferred} deferred, ${cropped} read in part` };
  }

  private async speechSegment(
    seg: SegmentRow,
    file: string,
    work: string,
    signal: AbortSignal,
  ): Promise<{ events: IndexedEvent[]; engine: string; skipped?: boolean; detail?: string }> {
    const engine = this.speech.engine as SpeechEngine;
    const ff = await this.o.ffmpeg();
    const raw = path.join(work, 'a.pcm');
    const r = await run(
      'nice',
      ['-n', '15', ff, '-nostdin', '-hide_banner', '-loglevel', 'error', '-i', file, '-ar', String(RATE), '-ac', '1', '-f', 's16le', '-c:a', 'pcm_s16le', raw],
      { timeoutMs: 300_000, signal },
    );
    if (r.code !== 0) throw new Error(`cannot decode audio: ${r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`}`);
    const bytes = fs.readFileSync(raw);
    fs.rmSync(raw, { force: true });
    const pcm = new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length >> 1);
    // Only what rises above the noise is transcribed: silence costs no engine time and yields no rows.
    const gate = voicedRegions(pcm, RATE, this.o.silenceDb);
    const voiced = gate.regions.reduce((n, g) => n + g.end - g.start, 0);
    const heard = `${voiced.toFixed(1)} of ${(pcm.length / RATE).toFixed(1)} s voiced in ${gate.regions.length} regions (noise ${gate.noiseDb.toFixed(0)} dB, gate ${gate.thresholdDb.toFixed(0)} dB)`;
    if (!gate.regions.length) return { events: [], engine: engine.name, skipped: true, detail: `silent: ${heard}` };
    const utts = await transcribeRegions(engine, pcm, RATE, gate.regions, work, signal);
    const events: IndexedEvent[] = utts.map((u) => {
      const text = redactRecognized(u.text);
      return {
        channel: seg.channel_id,
        type: 'transcript.segment',
        offset_ms: seg.start_offset_ms + Math.round(u.start * 1000),
        data: {
          text,
          end_offset_ms: seg.start_offset_ms + Math.round(u.end * 1000),
          confidence: u.conf,
          engine: engine.name,
          words: u.words.map((w) => ({
            w: redactPieces(text, w.word),
            s: seg.start_offset_ms + Math.round(w.start * 1000),
            e: seg.start_offset_ms + Math.round(w.end * 1000),
            c: w.conf,
          })),
        },
      };
    });
    return { events, engine: engine.name, detail: `${heard}, ${utts.length} utterances` };
  }
}
