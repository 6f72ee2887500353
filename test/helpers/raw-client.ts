/**
 * A socket client that is not node-ipc: plain `net`, writing the documented
 * bytes (compact JSON + 0x0C) and splitting replies on 0x0C.
 */
import net from 'node:net';

export class RawClient {
  private buf = '';
  readonly frames: any[] = [];
  private waiters: (() => void)[] = [];
  closed = false;
  readonly closedP: Promise<void>;

  private constructor(private readonly sock: net.Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\f')) >= 0) {
        const frame = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        if (frame) this.frames.push(JSON.parse(frame));
      }
      this.wake();
    });
    this.closedP = new Promise((resolve) =>
      sock.once('close', () => {
        this.closed = true;
        this.wake();
        resolve();
      }),
    );
    sock.on('error', () => undefined);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  static connect(path: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ path });
      s.once('connect', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  writeRaw(data: string | Buffer): void {
    this.sock.write(data);
  }

  send(type: string, data: unknown): void {
    this.writeRaw(`${JSON.stringify({ type, data })}\f`);
  }

  /** Waits for a frame matching `pred`, or for the connection to close (returns undefined). */
  async next(pred: (f: any) => boolean, timeoutMs = 5000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const idx = this.frames.findIndex(pred);
      if (idx >= 0) return this.frames.splice(idx, 1)[0];
      if (this.closed) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a frame');
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  async call(method: string, params: unknown = {}, id: string | number = Math.floor(Math.random() * 1e9), timeoutMs = 60_000): Promise<any> {
    this.send('req', { id, method, params });
    const f = await this.next((x) => x.type === 'res' && x.data?.id === id, timeoutMs);
    if (!f) throw new Error('connection closed before the reply');
    return f.data;
  }

  close(): void {
    this.sock.destroy();
  }
}
