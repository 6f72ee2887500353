/**
 * The VideoDB upload target, through the real `videodb` SDK (contract:
 * ../shared/reference/videodb-api.md). A stored segment is uploaded as
 * `<session>/<channel>/<seq>`: Matroska video remuxed (`-c copy`) into MP4,
 * which VideoDB accepts; ogg/opus audio as is, as audio. The SDK's errors are
 * classified for the queue: a 401 anywhere in the cause chain is `auth`, other
 * 4xx answers (except 408 and 429) are `permanent`, everything else retries.
 *
 * Once per name, as the server sees it. Every media gets the job's name
 * (`mediaName`), which never changes between attempts. Only the create request
 * (step 3 of the contract's upload) makes media; before it is sent the job's
 * note records it, and its answer (a status URL, or the media) is added to the
 * note. An attempt that finds a note settles it before uploading again: the
 * media id if known, else the status URL polled again, else — the answer was
 * lost — a video is looked up by name in the collection's listing (GET /video),
 * deferring the job while a late request could still land. The reference
 * documents no audio listing, so an audio create whose own answer was lost
 * (5xx or kill after the server acted on it) cannot be found and is sent again;
 * every later loss (status poll failing, stalling, a restart) is settled
 * through the status URL. A create request outlives the attempt that sent it
 * (up to createTimeoutMs, as the SDK's requests), so a late answer is still
 * noted, and no second one for the name is sent while it runs. The create
 * request and its status polls are ours, not the SDK's: the SDK polls the
 * status URL inside `uploadURL` without showing it, and cannot be aborted.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import videodb from 'videodb';
import { run } from '../capture/proc.js';
import { DeferAttempt, INTERRUPTED, type AttemptNotes, type Failure, type Job, type RemoteResult, type UploadTarget } from './queue.js';

const { connect, AuthenticationError, InvalidRequestError, VideodbError } = videodb;

/** Maps an HTTP failure to the SDK's error classes, so one classifier covers both paths. */
function httpFailure(status: number, statusText: string, message: string | undefined): void {
  if (status === 401) throw new AuthenticationError(message ?? 'Invalid API Key');
  if (status < 200 || status >= 300) throw new InvalidRequestError({ status, statusText } as never, message ?? statusText);
}

/** A multipart/form-data POST of one file in a field named `file`, streamed from disk. */
function postFile(
  url: string,
  file: string,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<{ status: number; statusText: string; text: string }> {
  return new Promise((resolve, reject) => {
    const boundary = `----traced${crypto.randomBytes(12).toString('hex')}`;
    const type = file.endsWith('.mp4') ? 'video/mp4' : file.endsWith('.ogg') ? 'audio/ogg' : 'application/octet-stream';
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${path.basename(file)}"\r\nContent-Type: ${type}\r\n\r\n`,
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const size = fs.statSync(file).size;
    const u = new URL(url);
    const req = (u.protocol === 'https:' ? https : http).request(
      u,
      {
        method: 'POST',
        signal,
        headers: { ...headers, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(head.length + size + tail.length) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.length < 64 && chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err) => reject(new VideodbError('Upload failed, reason: ', err)));
      },
    );
    req.on('error', (err) => reject(new VideodbError('Upload failed, reason: ', err)));
    req.write(head);
    const rs = fs.createReadStream(file);
    rs.on('error', (err) => req.destroy(err));
    rs.on('end', () => req.end(tail));
    rs.pipe(req, { end: false });
  });
}

export interface SegmentFile {
  /** Absolute path of the stored segment. */
  file: string;
  media: 'video' | 'audio';
}

export interface VideoDBOptions {
  /** Read at every connection, so a key changed in config.json is picked up. */
  apiKey: () => string | undefined;
  baseUrl: string;
  collection: string;
  ffmpeg: () => Promise<string>;
  segmentFile: (job: Job) => SegmentFile | undefined;
  /** Muxes the session (primary display + all stored audio) into an MP4 for the `export` job. */
  exportFile?: (job: Job, signal: AbortSignal) => Promise<string>;
  /** What VideoDB indexes on a session's exported video. */
  index?: { spokenWords: boolean; scenes: boolean };
  tmpDir: string;
  /** How long a create request may wait for its answer; it outlives the attempt that sent it. Default 60 s, the SDK's per-request timeout. */
  createTimeoutMs?: number;
  /**
   * How long after a create request whose answer was lost it may still take
   * effect on the server; until then a video not found by name is looked for
   * again rather than uploaded again. Default 60 s (the SDK's request timeout:
   * nothing here waits longer for an answer).
   */
  settleMs?: number;
  /** Between polls of a job the server is still processing. Default 5 s, as the SDK. */
  pollIntervalMs?: number;
}

/** The name a job's media gets on the server: stable across attempts, restarts and rebuilt databases. */
export function mediaName(job: Pick<Job, 'kind' | 'session_id' | 'channel_id' | 'segment_seq'>): string {
  return job.kind === 'export' ? job.session_id : `${job.session_id}/${job.channel_id}/${job.segment_seq}`;
}

/** The job's note about the create request it sent (see AttemptNotes). */
interface CreateNote {
  name: string;
  /** When the create request was sent (ms since the epoch). */
  sent_at: number;
  /** The server's status URL for the upload, once it answered with one. */
  output_url?: string;
  /** The media id, once known. */
  media_id?: string;
  /**
   * The HTTP status of an answer that gave neither. Such an answer means the
   * server is through with the request, so a lookup after it is conclusive;
   * without one (timeout, stall, reset, kill), or with a 504 (a gateway gave up
   * on a backend that may still act), the request may still land later.
   */
  answer?: number;
}

function readNote(notes: AttemptNotes, name: string): CreateNote | undefined {
  const n = notes.read() as Partial<CreateNote> | undefined;
  // A note for another name (an export named differently by an older version) says nothing about this one.
  return n && n.name === name && typeof n.sent_at === 'number' ? (n as CreateNote) : undefined;
}

/** Waits for `p` unless `signal` aborts first. */
function until<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return until(new Promise<void>((r) => setTimeout(r, ms).unref()), signal);
}

/** What the export job records with the remote id. */
export interface ExportMeta {
  stream_url: string | null;
  player_url: string | null;
  length_s: number | null;
  indexed: { spoken_words: boolean | string; scenes: string | null | false };
}

/** A cloud search hit: which remote video, where, what. */
export interface CloudHit {
  video_id: string;
  start_s: number;
  end_s: number;
  text: string;
  score: number;
  index: 'spoken_word' | 'scene';
}

type Collection = Awaited<ReturnType<ReturnType<typeof connect>['getCollection']>>;

export class VideoDBTarget implements UploadTarget {
  readonly name = 'videodb';
  private coll: { key: string; collection: Collection } | undefined;
  private rejectedKey: string | undefined;
  /** Create requests still waiting for their answer, by media name: settled (never rejected) when they end. */
  private readonly creating = new Map<string, Promise<void>>();
  /** Aborts every create request still running (close). */
  private readonly closing = new AbortController();

  constructor(private readonly opts: VideoDBOptions) {}

  private async collection(): Promise<Collection> {
    const key = this.opts.apiKey();
    if (!key) throw new AuthenticationError('no API key configured');
    if (this.coll?.key === key) return this.coll.collection;
    const conn = connect(key, this.opts.baseUrl);
    const collection = await conn.getCollection(this.opts.collection);
    this.coll = { key, collection };
    return collection;
  }

  async run(job: Job, signal: AbortSignal, notes: AttemptNotes): Promise<string | RemoteResult> {
    if (job.kind === 'export') return this.runExport(job, signal, notes);
    if (job.kind !== 'segment') throw new PermanentError(`videodb cannot run ${job.kind} jobs`);
    const seg = this.opts.segmentFile(job);
    const where = `segment ${job.session_id}/${job.channel_id}/${job.segment_seq}`;
    try {
      const coll = await this.collection();
      return await this.once(coll, job, seg?.media ?? 'video', signal, notes, async () => {
        if (!seg || !fs.existsSync(seg.file)) throw new PermanentError(`${where} is not on disk`);
        return seg.media === 'video' ? { file: await this.remux(seg.file, job, signal), temporary: true } : { file: seg.file, temporary: false };
      });
    } catch (err) {
      if (this.classify(err) === 'auth') this.rejectedKey = this.opts.apiKey();
      throw err;
    }
  }

  /**
   * The session's exported video: the local mux uploaded as `<session>`, then
   * spoken words and scenes indexed per config. Indexing problems are kept in
   * the result (the video is there; search falls back to local results).
   */
  private async runExport(job: Job, signal: AbortSignal, notes: AttemptNotes): Promise<RemoteResult> {
    const exportFile = this.opts.exportFile;
    if (!exportFile) throw new PermanentError('exporting sessions is not set up');
    try {
      const coll = await this.collection();
      const id = await this.once(coll, job, 'video', signal, notes, async () => ({ file: await exportFile(job, signal), temporary: true }));
      const video = (await coll.getVideo(id).catch((err: unknown) => {
        // Gone from the collection since (deleted by hand): a retry uploads it again.
        if ((err as { response?: { status?: number } }).response?.status === 404) notes.write(null);
        throw err;
      })) as unknown as VideoLike | undefined;
      if (!video?.id) throw new Error('VideoDB answered without a video');
      const indexed: ExportMeta['indexed'] = { spoken_words: false, scenes: false };
      if (this.opts.index?.spokenWords !== false) {
        indexed.spoken_words = await video.indexSpokenWords().then(
          () => true,
          (err: unknown) => `failed: ${(err as Error).message}`,
        );
      }
      if (this.opts.index?.scenes) {
        indexed.scenes = await video.indexScenes({}).then(
          (id) => (typeof id === 'string' ? id : null),
          (err: unknown) => `failed: ${(err as Error).message}`,
        );
      }
      const meta: ExportMeta = {
        stream_url: video.streamUrl ?? null,
        player_url: video.playerUrl ?? null,
        length_s: video.length === undefined ? null : Number(video.length),
        indexed,
      };
      return { id: video.id, meta: { ...meta } };
    } catch (err) {
      if (this.classify(err) === 'auth') this.rejectedKey = this.opts.apiKey();
      throw err;
    }
  }

  /**
   * The id of the job's media, made at most once: an earlier create request
   * for the name still running here is waited for, a noted one is settled, and
   * only when neither left media is the file uploaded and created.
   */
  private async once(
    coll: Collection,
    job: Job,
    media: 'video' | 'audio',
    signal: AbortSignal,
    notes: AttemptNotes,
    file: () => Promise<{ file: string; temporary: boolean }>,
  ): Promise<string> {
    const name = mediaName(job);
    const earlier = this.creating.get(name);
    if (earlier) await until(earlier, signal);
    const noted = readNote(notes, name);
    if (noted) {
      const id = await this.settle(coll, noted, media, signal, notes);
      if (id) return id;
    } else if (job.last_error === INTERRUPTED && media === 'video') {
      // Left in flight by a daemon from before notes were kept: look before sending it again.
      const id = await this.findVideo(coll, name, signal);
      if (id) return id;
    }
    const upload = await file();
    try {
      // The bytes go up as a stream of our own (the SDK's uploadFile buffers the whole body in memory and
      // counts it against one fixed 60 s timeout); steps 1–2 make no media, so repeating them is harmless.
      const url = await this.sendBytes(coll.id, upload.file, signal);
      // An attempt past its deadline never creates: the next one may already be deciding.
      signal.throwIfAborted();
      const note: CreateNote = { name, sent_at: Date.now() };
      notes.write(note);
      await until(this.create(coll.id, { url, name, media_type: media }, note, notes), signal);
    } finally {
      if (upload.temporary) fs.rmSync(upload.file, { force: true });
    }
    const answered = readNote(notes, name);
    const id = answered && (await this.settle(coll, answered, media, signal, notes));
    if (!id) throw new VideodbError(`the upload of ${name} left no media`);
    return id;
  }

  /**
   * What a noted create request made: its media id, the media its status URL
   * gives, or (answer lost) a video found by name. Undefined when it made
   * nothing that can be found, so uploading again is the way on. Throws when
   * the server cannot tell yet (5xx, stall): uploading then could make a copy.
   */
  private async settle(coll: Collection, note: CreateNote, media: 'video' | 'audio', signal: AbortSignal, notes: AttemptNotes): Promise<string | undefined> {
    if (note.media_id) return note.media_id;
    if (note.output_url) {
      const id = await this.poll(note.output_url, signal);
      if (id) {
        notes.write({ ...note, media_id: id });
        return id;
      }
      // The status URL is gone or says the job failed: whether media was made is left to the name lookup.
      note = { name: note.name, sent_at: note.sent_at, answer: 200 };
      notes.write(note);
    }
    if (media === 'audio') return undefined; // no audio listing in the contract: nothing to look in
    const found = await this.findVideo(coll, note.name, signal);
    if (found) {
      notes.write({ ...note, media_id: found });
      return found;
    }
    const settleMs = this.opts.settleMs ?? 60_000;
    const age = Date.now() - note.sent_at;
    const mayStillLand = note.answer === undefined || note.answer === 504;
    if (mayStillLand && age < settleMs)
      throw new DeferAttempt(`an earlier upload of ${note.name} may still land; looking again before sending it again`, settleMs - age);
    return undefined;
  }

  /** The first video in the collection with this name (GET /video through the SDK). */
  private async findVideo(coll: Collection, name: string, signal: AbortSignal): Promise<string | undefined> {
    const videos = await until(coll.getVideos(), signal);
    return videos.find((v) => v.name === name)?.id;
  }

  /**
   * Step 3 of the contract's upload: POST /collection/{id}/upload, the one
   * request that makes media. Its answer — a status URL or the media — is
   * added to the note. It is bounded by createTimeoutMs and close(), not by
   * the attempt, so an answer that comes after the attempt gave up is noted
   * all the same; meanwhile no other create request for the name is sent.
   */
  private create(
    collectionId: string,
    body: { url: string; name: string; media_type: 'video' | 'audio' },
    note: CreateNote,
    notes: AttemptNotes,
  ): Promise<void> {
    const signal = AbortSignal.any([AbortSignal.timeout(this.opts.createTimeoutMs ?? 60_000), this.closing.signal]);
    const request = (async () => {
      const res = await fetch(`${this.opts.baseUrl}/collection/${encodeURIComponent(collectionId)}/upload`, {
        method: 'POST',
        headers: { ...this.headers(), 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal,
      }).catch((err: unknown) => {
        throw new VideodbError('Request failed', err);
      });
      const answer = (await res.json().catch(() => ({}))) as Envelope;
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429)
        notes.write(null); // refused: nothing was made
      else if (res.status < 200 || res.status >= 300 || answer.success === false) notes.write({ ...note, answer: res.status });
      httpFailure(res.status, res.statusText, answer.message);
      if (answer.success === false) throw new VideodbError(answer.message ?? 'success: false');
      const outputUrl = answer.status === 'processing' ? answer.data?.output_url : undefined;
      const mediaId = outputUrl ? undefined : answer.data?.id;
      if (!outputUrl && !mediaId) throw new VideodbError('VideoDB answered the upload without a media id or a status URL');
      notes.write(outputUrl ? { ...note, output_url: outputUrl } : { ...note, media_id: mediaId });
    })();
    const settled = request.then(
      () => undefined,
      () => undefined, // what the attempt needs to know is in the note; the error goes to the attempt below
    );
    const tracked = settled.finally(() => {
      if (this.creating.get(body.name) === tracked) this.creating.delete(body.name);
    });
    this.creating.set(body.name, tracked);
    return request;
  }

  /**
   * Polls an upload's status URL until the server is done: the media id, or
   * undefined when the URL is gone (404) or the server says the job failed.
   */
  private async poll(outputUrl: string, signal: AbortSignal): Promise<string | undefined> {
    const url = /^https?:\/\//.test(outputUrl) ? outputUrl : `${this.opts.baseUrl}/${outputUrl.replace(/^\//, '')}`;
    for (;;) {
      const res = await fetch(url, { headers: this.headers(), signal }).catch((err: unknown) => {
        throw new VideodbError('Request failed', err);
      });
      const answer = (await res.json().catch(() => ({}))) as Envelope;
      if (res.status === 404) return undefined;
      httpFailure(res.status, res.statusText, answer.message);
      if (answer.status === 'processing' || answer.status === 'in progress') {
        await sleep(this.opts.pollIntervalMs ?? 5000, signal);
        continue;
      }
      if (answer.success === false || answer.response?.success === false) return undefined;
      const id = (answer.response?.data ?? answer.data)?.id;
      if (!id) throw new VideodbError('VideoDB finished the upload without a media id');
      return id;
    }
  }

  /**
   * Ends every create request still running, as a stopped process would
   * (tests use it to play a killed daemon); returns the names whose create
   * request it cut off: their outcome is for the next process to settle.
   */
  close(): string[] {
    const cut = [...this.creating.keys()];
    this.closing.abort(new Error('closed'));
    return cut;
  }

  private headers(): Record<string, string> {
    return { 'x-access-token': this.opts.apiKey() ?? '', 'x-videodb-client': 'traced' };
  }

  /** A stream URL for [fromS, toS] of an exported video. */
  async clip(videoId: string, fromS: number, toS: number): Promise<{ stream_url: string; player_url: string | null }> {
    const coll = await this.collection();
    const video = (await coll.getVideo(videoId)) as VideoLike;
    const stream = await video.generateStream([[fromS, toS]]);
    return { stream_url: String(stream), player_url: null };
  }

  /**
   * Searches the collection's indexed videos. VideoDB answers a search without
   * hits with an error "No results found.": that is an empty result here.
   */
  async search(query: string, limit: number): Promise<CloudHit[]> {
    const coll = await this.collection();
    const hits: CloudHit[] = [];
    for (const index of ['spoken_word'] as const) {
      type Shots = { shots?: { videoId?: string; start?: number; end?: number; text?: string; searchScore?: number }[] };
      let res: Shots | undefined;
      try {
        res = (await coll.search(query, 'semantic' as never, index as never, limit)) as unknown as Shots;
      } catch (err) {
        if (/No results found/i.test(errorChain(err))) continue;
        throw err;
      }
      for (const sh of res?.shots ?? []) {
        if (!sh.videoId) continue;
        hits.push({
          video_id: sh.videoId,
          start_s: Number(sh.start ?? 0),
          end_s: Number(sh.end ?? sh.start ?? 0),
          text: String(sh.text ?? ''),
          score: Number(sh.searchScore ?? 0),
          index,
        });
      }
    }
    return hits.slice(0, limit);
  }

  /** Steps 1–2 of the contract's upload: GET an upload URL, then one streamed multipart POST of the file to it. */
  private async sendBytes(collectionId: string, file: string, signal: AbortSignal): Promise<string> {
    const headers = this.headers();
    const res = await fetch(`${this.opts.baseUrl}/collection/${encodeURIComponent(collectionId)}/upload_url`, { headers, signal }).catch((err: unknown) => {
      throw new VideodbError('Request failed', err);
    });
    const body = (await res.json().catch(() => ({}))) as { success?: boolean; message?: string; data?: { upload_url?: string } };
    httpFailure(res.status, res.statusText, body.message);
    const uploadUrl = body.data?.upload_url;
    if (!uploadUrl) throw new VideodbError(`no upload_url in the answer${body.message ? `: ${body.message}` : ''}`);
    const { status, statusText, text } = await postFile(uploadUrl, file, headers, signal);
    let message: string | undefined;
    try {
      const parsed = JSON.parse(text) as { success?: boolean; message?: string };
      if (parsed.success === false) message = parsed.message ?? 'success: false';
    } catch {
      // any 2xx body is accepted, as the SDK does
    }
    httpFailure(status, statusText, message);
    if (message) throw new VideodbError(`Upload failed, reason: ${message}`);
    return uploadUrl;
  }

  /** Matroska → MP4 without re-encoding (VideoDB does not take Matroska). */
  private async remux(file: string, job: Job, signal: AbortSignal): Promise<string> {
    fs.mkdirSync(this.opts.tmpDir, { recursive: true, mode: 0o700 });
    const out = path.join(this.opts.tmpDir, `upload-${job.id}-${job.attempts}.mp4`);
    const ff = await this.opts.ffmpeg();
    const r = await run(ff, ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y', '-i', file, '-c', 'copy', '-movflags', '+faststart', out], {
      timeoutMs: 60_000,
      signal,
    });
    if (r.code !== 0) {
      fs.rmSync(out, { force: true });
      throw new PermanentError(`cannot remux ${path.basename(file)} to MP4: ${r.stderr.trim().split('\n').pop() ?? `exit ${r.code}`}`);
    }
    return out;
  }

  classify(err: unknown): Failure {
    for (let e: unknown = err, i = 0; e && i < 6; e = (e as { cause?: unknown }).cause, i++) {
      if (e instanceof PermanentError) return 'permanent';
      if (e instanceof AuthenticationError) return 'auth';
      if (e instanceof InvalidRequestError) {
        const status = (e as { response?: { status?: number } }).response?.status ?? 0;
        if (status === 401 || status === 403) return 'auth';
        if (status >= 400 && status < 500 && status !== 408 && status !== 429) return 'permanent';
        return 'retry';
      }
    }
    return 'retry';
  }

  credentialsChanged(): boolean {
    const key = this.opts.apiKey();
    return key !== undefined && key !== this.rejectedKey;
  }
}

export class PermanentError extends Error {}

/** The contract's answer envelope (snake_case: these answers do not go through the SDK). */
interface Envelope {
  success?: boolean;
  message?: string;
  status?: string;
  data?: { id?: string; output_url?: string };
  response?: { success?: boolean; message?: string; data?: { id?: string } };
}

interface VideoLike {
  id: string;
  name?: string;
  length?: string | number;
  streamUrl?: string;
  playerUrl?: string;
  indexSpokenWords(): Promise<unknown>;
  indexScenes(cfg: Record<string, unknown>): Promise<unknown>;
  generateStream(timeline?: [number, number][]): Promise<unknown>;
}

function errorChain(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, i = 0; e && i < 6; e = (e as { cause?: unknown }).cause, i++)
    parts.push(e instanceof Error ? e.message : typeof e === 'string' ? e : JSON.stringify(e));
  return parts.join(' ');
}
