/**
 * Getting a session out, and a recording back in: JSON/JSONL recordings,
 * MP4 (screen + mixed audio), raw channel files, clips, the state of the
 * session's video in the cloud, and importing a recording. The muxer is built
 * once and shared with the VideoDB target, which uploads what it makes.
 */
import path from 'node:path';
import { ErrorCodes, TracedError } from '../errors.js';
import type { ExportSessionInput, ExportSessionOutput, GetClipInput, GetClipOutput, ImportRecordingInput, ImportRecordingOutput } from '../model.js';
import { ownDir } from '../timeline/confine.js';
import { importRecording, readRecording, writeRecording } from '../timeline/recording.js';
import { restoreCasts } from '../timeline/terminal-cast.js';
import type { SessionFiles } from '../timeline/session-files.js';
import type { Store } from '../timeline/store.js';
import { writeAsciicast } from './asciicast.js';
import { muxSession, rawChannelFiles, type MuxResult } from './mux.js';

const TERMINAL_TYPES = ['terminal.output', 'terminal.output_dropped', 'terminal.exit', 'terminal.stopped'];

export interface MuxRange {
  display?: string | undefined;
  fromMs?: number | undefined;
  toMs?: number | undefined;
}

/** Muxes a session's stored media into one MP4, with `export.progress` notifications. */
export class SessionMuxer {
  constructor(
    private readonly d: {
      store: Store;
      files: SessionFiles;
      ffmpeg: () => Promise<string>;
      tmpDir: string;
      fps: number;
      notify: (topic: string, data: unknown) => void;
    },
  ) {}

  async mux(sessionId: string, out: string, range: MuxRange = {}, signal?: AbortSignal): Promise<MuxResult> {
    const ffmpeg = await this.d.ffmpeg();
    let last = -1;
    return muxSession({
      ffmpeg,
      sessionDir: this.d.files.dir(sessionId),
      segments: this.d.store.segments(sessionId).filter((g) => g.state !== 'pruned'),
      display: range.display,
      fromMs: range.fromMs,
      toMs: range.toMs,
      out,
      tmpDir: this.d.tmpDir,
      fps: this.d.fps,
      onProgress: (done, total) => {
        const pct = total ? Math.floor((100 * done) / total) : 100;
        if (pct === last) return;
        last = pct;
        this.d.notify('export.progress', { session: sessionId, done_ms: done, total_ms: total, percent: pct });
      },
      ...(signal ? { signal } : {}),
    });
  }

  async raw(sessionId: string, outDir: string): Promise<{ channel: string; file: string; bytes: number }[]> {
    return rawChannelFiles({
      ffmpeg: await this.d.ffmpeg(),
      sessionDir: this.d.files.dir(sessionId),
      segments: this.d.store.segments(sessionId).filter((g) => g.state !== 'pruned'),
      outDir,
    });
  }
}

/** What the exporter needs of the upload queue and the cloud target. */
export interface CloudExports {
  configured(): boolean;
  /** The session's export job (enqueued when `create`), or undefined. */
  exportJob(sessionId: string, create: boolean): { state: string; remote_id: string | null; remote_meta: string | null; last_error: string | null } | undefined;
  clip(videoId: string, fromS: number, toS: number): Promise<{ stream_url: string }>;
}

export interface ExporterDeps {
  store: Store;
  files: SessionFiles;
  muxer: SessionMuxer;
  exportsDir: string;
  /** Where a relative path resolves when the caller gave no directory. */
  cwd: string;
  cloud?: CloudExports | undefined;
  /** The live session's id, and a way to commit its pending events before a recording is written. */
  liveId: () => string | undefined;
  flushLive: () => void;
  newSessionId: () => string;
  /** Stores imported events through the event writer's gate (inside the import transaction). */
  restoreEvents: Parameters<typeof importRecording>[2]['restore'];
  gateText: (text: string | null) => string | null;
  refreshMoments: (sessionId: string) => void;
}

export class Exporter {
  constructor(private readonly d: ExporterDeps) {}

  async export(id: string, q: Omit<ExportSessionInput, 'session'>): Promise<ExportSessionOutput> {
    if (q.target === 'json' || q.target === 'jsonl') {
      if (this.d.liveId() === id) this.d.flushLive();
      const r = writeRecording(this.d.store, id, path.join(ownDir(this.d.exportsDir), `${id}.${q.target}`), q.target);
      return { session_id: id, target: q.target, export_status: 'exported', file: r.file, bytes: r.bytes, events: r.events };
    }
    if (q.target === 'asciicast') {
      const row = this.d.store.getSession(id);
      const range = q.from_ms !== undefined || q.to_ms !== undefined ? `_${q.from_ms ?? 0}-${q.to_ms ?? 'end'}` : '';
      const r = writeAsciicast({
        sessionsDir: path.dirname(this.d.files.dir(id)),
        sessionId: id,
        startedAt: row?.started_at ?? 0,
        out: path.join(ownDir(this.d.exportsDir), `${id}${range}.cast`),
        fromMs: q.from_ms,
        toMs: q.to_ms,
        gateText: (t) => this.d.gateText(t) ?? '',
      });
      return { session_id: id, target: 'asciicast', export_status: 'exported', file: r.file, bytes: r.bytes, events: r.events };
    }
    if (q.target === 'raw') {
      const files = await this.d.muxer.raw(id, ownDir(this.d.exportsDir, `${id}-raw`));
      return { session_id: id, target: 'raw', export_status: 'exported', files };
    }
    if (q.target === 'mp4') {
      const range = q.from_ms !== undefined || q.to_ms !== undefined ? `_${q.from_ms ?? 0}-${q.to_ms ?? 'end'}` : '';
      const out = path.join(ownDir(this.d.exportsDir), `${id}${q.display ? `_${q.display.replace(':', '')}` : ''}${range}.mp4`);
      const r = await this.d.muxer.mux(id, out, { display: q.display, fromMs: q.from_ms, toMs: q.to_ms });
      return {
        session_id: id,
        target: 'mp4',
        export_status: 'exported',
        file: r.file,
        bytes: r.bytes,
        duration_ms: r.duration_ms,
        video: r.video,
        audio: r.audio,
      };
    }
    const cloud = this.d.cloud;
    if (!cloud?.configured()) {
      return {
        session_id: id,
        target: 'videodb',
        export_status: 'not_configured',
        error: 'no VideoDB key: set videodb.apiKey in config.json or VIDEO_DB_API_KEY',
      };
    }
    let job = cloud.exportJob(id, false);
    if (!job) {
      if (this.d.liveId() === id) throw new TracedError(ErrorCodes.SESSION_STATE, `session ${id} is still recording; it is exported to VideoDB when it stops`);
      job = cloud.exportJob(id, true);
    }
    const meta = job?.remote_meta ? (JSON.parse(job.remote_meta) as { stream_url?: string | null; player_url?: string | null }) : {};
    return {
      session_id: id,
      target: 'videodb',
      export_status: job?.state === 'done' ? 'exported' : job?.state === 'failed' ? 'failed' : 'exporting',
      video_id: job?.remote_id ?? null,
      stream_url: meta.stream_url ?? null,
      player_url: meta.player_url ?? null,
      error: job?.state === 'done' ? null : (job?.last_error ?? null),
    };
  }

  async clip(id: string, q: Omit<GetClipInput, 'session'>): Promise<GetClipOutput> {
    if (q.to_ms <= q.from_ms) throw new TracedError(ErrorCodes.INVALID_PARAMS, 'to_ms must be after from_ms');
    const exported = this.d.cloud?.exportJob(id, false);
    if (exported?.state === 'done' && exported.remote_id && this.d.cloud) {
      const clip = await this.d.cloud.clip(exported.remote_id, q.from_ms / 1000, q.to_ms / 1000);
      return { session_id: id, source: 'videodb', stream_url: clip.stream_url, from_ms: q.from_ms, to_ms: q.to_ms };
    }
    const out = path.join(ownDir(this.d.exportsDir, 'clips'), `${id}_${q.from_ms}-${q.to_ms}.mp4`);
    const r = await this.d.muxer.mux(id, out, { fromMs: q.from_ms, toMs: q.to_ms });
    return { session_id: id, source: 'local', file: r.file, from_ms: q.from_ms, to_ms: q.from_ms + r.duration_ms };
  }

  /** Loads a recording the caller named (paths resolve against the caller's directory). */
  import(q: ImportRecordingInput, callerCwd?: string): ImportRecordingOutput {
    const cwd = callerCwd ?? this.d.cwd;
    const rec = readRecording(path.resolve(cwd, q.file));
    const r = importRecording(this.d.store, rec, {
      newId: q.as_new ? this.d.newSessionId() : undefined,
      sessionDir: (sid) => this.d.files.dir(sid),
      mediaDir: q.media_dir === undefined ? undefined : path.resolve(cwd, q.media_dir),
      restore: this.d.restoreEvents,
      gateText: this.d.gateText,
    });
    // The session folder gets its own copy, so the imported session survives a rebuild like any other.
    this.d.files.ensure(r.session_id);
    const row = this.d.store.getSession(r.session_id);
    if (row) {
      this.d.files.writeSession(r.session_id, {
        format: 'traced-session/1',
        id: row.id,
        project: row.project,
        label: row.label,
        profile: row.profile,
        state: row.state,
        started_at: row.started_at,
        ended_at: row.ended_at,
        imported_from: rec.meta.session.id,
      });
    }
    this.d.files.appendEvents(r.session_id, this.d.store.eventsAfter(r.session_id, 0));
    // The terminal's output came as text: rebuild the session's cast files from it (screens, asciicast export).
    const terminal = this.d.store.events({ sessionId: r.session_id, types: TERMINAL_TYPES, limit: 1_000_000 });
    if (row && terminal.length) restoreCasts(path.dirname(this.d.files.dir(r.session_id)), r.session_id, row.started_at, terminal);
    this.d.refreshMoments(r.session_id);
    return r;
  }
}
