/**
 * The VideoDB upload target, through the real `videodb` SDK (contract:
 * ../shared/reference/videodb-api.md). A stored segment is uploaded as
 * `<session>/<channel>/<seq>`: Matroska video remuxed (`-c copy`) into MP4,
 * which VideoDB accepts; ogg/opus audio as is, as audio. The SDK's errors are
 * classified for the queue: a 401 anywhere in the cause chain is `auth`, other
 * 4xx answers (except 408 and 429) are `permanent`, everything else retries.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import videodb from 'videodb';
import { run } from '../capture/proc.js';
import { INTERRUPTED, type Failure, type Job, type RemoteResult, type UploadTarget } from './queue.js';

const { connect, AuthenticationError, InvalidRequestError, VideodbError } = videodb;

/** Maps an HTTP failure to the SDK's error classes, so one classifier covers both paths. */
function httpFailure(status: number, statusText: string, message: string | undefined): void {
  if (status === 401) throw new AuthenticationError(message ?? 'Invalid API Key');
  if (status < 200 || status >= 300) throw new InvalidRequestError({ status, statusText } as never, message ?? statusText);
}

/** A multipart/form-data POST of one file in a field named `file`, streamed from disk. */
function postFile(url: string, file: string, headers: Record<string, string>, signal: AbortSignal): Promise<{ status: number; statusText: string; text: string }> {
  return new Promise((resolve, reject) => {
    const boundary = `----traced${crypto.randomBytes(12).toString('hex')}`;
    const type = file.endsWith('.mp4') ? 'video/mp4' : file.endsWith('.ogg') ? 'audio/ogg' : 'application/octet-stream';
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${path.basename(file)}"\r\nContent-Type: ${type}\r\n\r\n`);
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const size = fs.statSync(file).size;
    const u = new URL(url);
    const req = (u.protocol === 'https:' ? https : http).request(
      u,
      { method: 'POST', signal, headers: { ...headers, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(head.length + size + tail.length) } },
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

  async run(job: Job, signal: AbortSignal): Promise<string | RemoteResult> {
    if (job.kind === 'export') return this.runExport(job, signal);
    if (job.kind !== 'segment') throw new PermanentError(`videodb cannot run ${job.kind} jobs`);
    const seg = this.opts.segmentFile(job);
    if (!seg || !fs.existsSync(seg.file)) throw new PermanentError(`segment ${job.session_id}/${job.channel_id}/${job.segment_seq} is not on disk`);
    const name = `${job.session_id}/${job.channel_id}/${job.segment_seq}`;
    try {
      const coll = await this.collection();
      // The previous attempt died with the daemon: its upload may have landed. Look before sending it again.
      if (job.last_error === INTERRUPTED && seg.media === 'video') {
        const existing = (await coll.getVideos()).find((v) => v.name === name);
        if (existing?.id) return existing.id;
      }
      const upload = seg.media === 'video' ? await this.remux(seg.file, job, signal) : seg.file;
      try {
        // The bytes go up as a stream of our own (the SDK's uploadFile buffers the whole body in
        // memory and counts it against one fixed 60 s timeout); the media is created through the SDK.
        const url = await this.sendBytes(coll.id, upload, signal);
        const media = await coll.uploadURL({ url, name, mediaType: seg.media });
        const id = (media as { id?: string } | undefined)?.id;
        if (!id) throw new Error('VideoDB answered without a media id');
        return id;
      } finally {
        if (upload !== seg.file) fs.rmSync(upload, { force: true });
      }
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
  private async runExport(job: Job, signal: AbortSignal): Promise<RemoteResult> {
    if (!this.opts.exportFile) throw new PermanentError('exporting sessions is not set up');
    try {
      const coll = await this.collection();
      let video: VideoLike | undefined;
      if (job.last_error === INTERRUPTED) video = (await coll.getVideos()).find((v) => v.name === job.session_id) as VideoLike | undefined;
      if (!video) {
        const file = await this.opts.exportFile(job, signal);
        try {
          const url = await this.sendBytes(coll.id, file, signal);
          video = (await coll.uploadURL({ url, name: job.session_id, mediaType: 'video' })) as VideoLike | undefined;
        } finally {
          fs.rmSync(file, { force: true });
        }
      }
      if (!video?.id) throw new Error('VideoDB answered without a video id');
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
      const meta: ExportMeta = { stream_url: video.streamUrl ?? null, player_url: video.playerUrl ?? null, length_s: video.length === undefined ? null : Number(video.length), indexed };
      return { id: video.id, meta: { ...meta } };
    } catch (err) {
      if (this.classify(err) === 'auth') this.rejectedKey = this.opts.apiKey();
      throw err;
    }
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
        hits.push({ video_id: sh.videoId, start_s: Number(sh.start ?? 0), end_s: Number(sh.end ?? sh.start ?? 0), text: String(sh.text ?? ''), score: Number(sh.searchScore ?? 0), index });
      }
    }
    return hits.slice(0, limit);
  }

  /** Steps 1–2 of the contract's upload: GET an upload URL, then one streamed multipart POST of the file to it. */
  private async sendBytes(collectionId: string, file: string, signal: AbortSignal): Promise<string> {
    const key = this.opts.apiKey() ?? '';
    const headers = { 'x-access-token': key, 'x-videodb-client': 'traced' };
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
    const r = await run(ff, ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y', '-i', file, '-c', 'copy', '-movflags', '+faststart', out], { timeoutMs: 60_000, signal });
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
  for (let e: unknown = err, i = 0; e && i < 6; e = (e as { cause?: unknown }).cause, i++) parts.push(e instanceof Error ? e.message : typeof e === 'string' ? e : JSON.stringify(e));
  return parts.join(' ');
}
