/**
 * A local server that speaks the VideoDB REST contract the `videodb` SDK uses
 * (../shared/reference/videodb-api.md), for tests and benchmarks: the cloud is
 * unreachable here. It keeps what it was sent (uploads by name, so duplicates
 * can be counted) and injects faults on request: a share of 500s, stalls,
 * 401 for any key but the good one, refused connections (stop/start on the
 * same port), and "No results found." for searches without hits. A fault can
 * come before the request takes effect or after it (the media was created,
 * the answer is lost), the way a gateway in front of a real service fails.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Faults {
  /** Share (0..1) of requests answered 500. */
  error500Rate?: number;
  /** Share of requests never answered (the client's timeout decides). */
  stallRate?: number;
  /**
   * A stall that comes before the work holds the request this long, then does
   * the work and answers (to a client that may have given up): a request that
   * takes effect late. Unset: a stalled request is never done nor answered.
   */
  stallMs?: number;
  /** Share (0..1) of the injected 500s and stalls that come after the work was done (the answer is lost, the effect is not). */
  afterWorkShare?: number;
  /** Delay before answering upload steps (ms): widens the window in which a crash hits an upload in flight. */
  uploadDelayMs?: number;
  /** Only fault upload steps (upload_url, the file POST, /upload), not collection lookups. */
  uploadsOnly?: boolean;
  /** Only fault requests whose path matches (e.g. /^\/async-response\// for the status polls). */
  only?: RegExp;
}

export interface Media {
  id: string;
  name: string;
  collection_id: string;
  media_type: 'video' | 'audio';
  /** The file name of the multipart upload (its extension tells the container). */
  filename: string;
  size: number;
  length: string;
  stream_url: string;
  player_url: string;
}

export class FakeVideoDB {
  goodKey = 'good-key';
  faults: Faults = {};
  /** Answer /upload with `processing` + an output_url the SDK polls (as the real service does). */
  asyncUploads = true;
  readonly media: Media[] = [];
  readonly requests: { method: string; path: string; status: number }[] = [];
  /** Faults injected so far. `late`: stalls answered after stallMs; `afterWork`: 500s and stalls sent after the work was done. */
  readonly injected = { error500: 0, stalls: 0, late: 0, afterWork: 0 };
  /** Media whose creating request (POST /collection/{id}/upload) never got its answer to the client. */
  readonly lostCreations: Media[] = [];
  /** What the "spoken word index" of a video holds, by the video's name (set by a test before the upload is indexed). */
  readonly transcriptsByName = new Map<string, { start: number; end: number; text: string }[]>();
  readonly indexed = new Map<string, string[]>();
  private readonly blobs = new Map<string, { bytes: number; filename: string }>();
  private readonly jobs = new Map<string, unknown>();
  private server: http.Server | undefined;
  private readonly sockets = new Set<import('node:net').Socket>();
  private seq = 0;
  port = 0;
  private rand: () => number;

  constructor(seed = 42) {
    let x = seed >>> 0 || 1;
    this.rand = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return ((x >>> 0) % 1_000_000) / 1_000_000;
    };
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Uploads per name: more than one means a remote duplicate. */
  uploadsByName(): Map<string, number> {
    const m = new Map<string, number>();
    for (const x of this.media) m.set(x.name, (m.get(x.name) ?? 0) + 1);
    return m;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** Goes offline: connections are refused until start() again (same port). */
  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const sock of this.sockets) sock.destroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const p = url.pathname;
    const method = req.method ?? '';
    const send = (status: number, body: unknown) => {
      this.requests.push({ method, path: p, status });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const body = await readBody(req);
    if (req.headers['x-access-token'] !== this.goodKey) return send(401, { success: false, message: 'Invalid API key' });
    const isUpload = /upload/.test(p) || p.startsWith('/blob/');
    const creates = method === 'POST' && /^\/collection\/[^/]+\/upload$/.test(p);
    if (isUpload && this.faults.uploadDelayMs) await new Promise((r) => setTimeout(r, this.faults.uploadDelayMs));
    let fault: 'stall' | 'error500' | undefined;
    if ((!this.faults.uploadsOnly || isUpload) && (!this.faults.only || this.faults.only.test(p))) {
      if (this.rand() < (this.faults.stallRate ?? 0)) fault = 'stall';
      else if (this.rand() < (this.faults.error500Rate ?? 0)) fault = 'error500';
    }
    // Drawn only when asked for, so the fault sequence of a seed stays what it was for older tests.
    const afterWork = fault !== undefined && (this.faults.afterWorkShare ?? 0) > 0 && this.rand() < (this.faults.afterWorkShare ?? 0);
    if (fault) this.injected[fault === 'stall' ? 'stalls' : 'error500']++;
    if (fault && !afterWork) {
      if (fault === 'error500') return send(500, { success: false, message: 'injected server error' });
      if (this.faults.stallMs === undefined) {
        this.requests.push({ method, path: p, status: 0 });
        return; // never answered; the socket is destroyed at stop()
      }
      this.injected.late++;
      await new Promise((r) => setTimeout(r, this.faults.stallMs));
    }
    const before = this.media.length;
    const [status, answer] = this.route(method, p, url, body);
    const created = creates ? this.media.slice(before) : [];
    if (fault && afterWork) {
      this.injected.afterWork++;
      this.lostCreations.push(...created);
      if (fault === 'error500') return send(500, { success: false, message: 'injected server error (after the work)' });
      this.requests.push({ method, path: p, status: 0 });
      return; // done, never answered
    }
    if (res.destroyed || req.socket.destroyed) {
      this.requests.push({ method, path: p, status: -1 });
      this.lostCreations.push(...created);
      return; // the client gave up before the answer
    }
    send(status, answer);
  }

  /** The contract itself: what a request does and what it answers. */
  private route(method: string, p: string, url: URL, body: Buffer): [number, unknown] {
    const json = (): any => {
      try {
        return JSON.parse(body.toString('utf8'));
      } catch {
        return {};
      }
    };
    let m: RegExpExecArray | null;
    if (method === 'GET' && (m = /^\/collection\/([^/]+)$/.exec(p))) {
      const id = m[1] === 'default' ? 'c-default' : m[1];
      return [200, { success: true, data: { id, name: id, description: '', is_public: false } }];
    }
    if (method === 'GET' && /^\/collection\/[^/]+\/upload_url$/.test(p)) {
      return [200, { success: true, data: { upload_url: `${this.url}/blob/${crypto.randomUUID()}` } }];
    }
    if (method === 'POST' && p.startsWith('/blob/')) {
      const head = body.subarray(0, 2048).toString('latin1');
      const filename = /filename="([^"]+)"/.exec(head)?.[1] ?? '';
      if (!/name="file"/.test(head)) return [400, { success: false, message: 'no file field' }];
      this.blobs.set(`${this.url}${p}`, { bytes: body.length, filename });
      return [200, { success: true }];
    }
    if (method === 'POST' && (m = /^\/collection\/([^/]+)\/upload$/.exec(p))) {
      const q = json();
      const blob = this.blobs.get(q.url);
      if (!blob) return [400, { success: false, message: `unknown upload url ${q.url}` }];
      const audio = q.media_type === 'audio';
      const id = `${audio ? 'a' : 'm'}-${++this.seq}`;
      const media: Media = {
        id,
        name: q.name ?? blob.filename,
        collection_id: m[1] as string,
        media_type: audio ? 'audio' : 'video',
        filename: blob.filename,
        size: blob.bytes,
        length: '0',
        stream_url: `https://play.example/v1/${id}.m3u8`,
        player_url: `https://console.example/player?url=${id}`,
      };
      this.media.push(media);
      if (!this.asyncUploads) return [200, { success: true, data: media }];
      const job = crypto.randomUUID();
      this.jobs.set(job, media);
      return [200, { success: true, status: 'processing', request_type: 'sync', data: { output_url: `${this.url}/async-response/${job}` } }];
    }
    if (method === 'GET' && (m = /^\/async-response\/(.+)$/.exec(p))) {
      const data = this.jobs.get(m[1] as string);
      if (!data) return [404, { success: false, message: 'no such job' }];
      return [200, { success: true, status: 'done', response: { success: true, data } }];
    }
    if (method === 'GET' && p === '/video') {
      return [
        200,
        { success: true, data: { videos: this.media.filter((x) => x.media_type === 'video' && x.collection_id === url.searchParams.get('collection_id')) } },
      ];
    }
    if (method === 'GET' && (m = /^\/(video|audio)\/([^/]+)$/.exec(p))) {
      const x = this.media.find((y) => y.id === m?.[2]);
      return x ? [200, { success: true, data: x }] : [404, { success: false, message: 'not found' }];
    }
    if (method === 'POST' && (m = /^\/video\/([^/]+)\/index(\/scene)?$/.exec(p))) {
      const id = m[1] as string;
      const kind = m[2] ? 'scene' : String(json().index_type ?? 'spoken_word');
      this.indexed.set(id, [...(this.indexed.get(id) ?? []), kind]);
      return [200, { success: true, data: kind === 'scene' ? { scene_index_id: `si-${id}` } : { success: true } }];
    }
    if (method === 'POST' && (m = /^\/video\/([^/]+)\/stream$/.exec(p))) {
      const tl = (json().timeline ?? []) as [number, number][];
      const range = tl.map(([a, b]) => `${a}-${b}`).join('_') || 'full';
      return [
        200,
        { success: true, data: { stream_url: `https://play.example/v1/${m[1]}-${range}.m3u8`, player_url: `https://console.example/player?v=${m[1]}` } },
      ];
    }
    if (method === 'POST' && (m = /^\/(collection|video)\/([^/]+)\/search$/.exec(p))) {
      const words = String(json().query ?? '')
        .toLowerCase()
        .split(/\s+/)
        .filter(Boolean);
      const results = [];
      for (const media of this.media) {
        if (media.media_type !== 'video' || !(this.indexed.get(media.id) ?? []).includes('spoken_word')) continue;
        if (m[1] === 'video' && media.id !== m[2]) continue;
        const docs = (this.transcriptsByName.get(media.name) ?? [])
          .filter((t) => words.every((w) => t.text.toLowerCase().includes(w)))
          .map((t) => ({ start: t.start, end: t.end, text: t.text, score: 0.9 }));
        if (docs.length) results.push({ video_id: media.id, collection_id: media.collection_id, title: media.name, length: '60.0', docs });
      }
      // The live service answers a search without hits with an error, not an empty list.
      if (!results.length) return [200, { success: false, message: 'No results found.' }];
      return [200, { success: true, data: { results } }];
    }
    return [404, { success: false, message: `no route ${method} ${p}` }];
  }
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', () => resolve(Buffer.concat(chunks)));
  });
}
