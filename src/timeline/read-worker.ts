/**
 * A read worker of the ReadPool: the read views on a read-only connection of
 * its own. It receives {id, target, method, args} and answers {id, result} or
 * {id, error: {code, message, data}}. It never writes: moments of the live
 * session are refreshed by the daemon before it asks.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { toTracedError } from '../errors.js';
import { Replay } from './replay.js';
import { Search } from './search.js';
import { SessionViews } from './sessions.js';
import { Store } from './store.js';

const store = new Store((workerData as { db: string }).db, { readonly: true });
const now = () => Date.now();
const none = () => {
  throw new Error('not available in a read worker');
};
const targets: Record<string, Record<string, (...a: unknown[]) => unknown>> = {
  replay: new Replay({ store, now, sessionDir: none, ffmpeg: none }) as unknown as Record<string, (...a: unknown[]) => unknown>,
  search: new Search({ store, now }) as unknown as Record<string, (...a: unknown[]) => unknown>,
  sessions: new SessionViews({
    store,
    now,
    cwd: '/',
    live: { current: undefined },
    refreshMoments: () => undefined,
    storage: () => ({ free_bytes: null, problem: null }),
    daemon: none as never,
  }) as unknown as Record<string, (...a: unknown[]) => unknown>,
};

parentPort?.on('message', (m: { id: number; target: string; method: string; args: unknown[] }) => {
  void (async () => {
    try {
      const t = targets[m.target];
      const fn = t?.[m.method];
      if (!t || typeof fn !== 'function') throw new Error(`no ${m.target}.${m.method} in a read worker`);
      const result = await fn.apply(t, m.args);
      parentPort?.postMessage({ id: m.id, result });
    } catch (err) {
      const e = toTracedError(err);
      parentPort?.postMessage({ id: m.id, error: { code: e.code, message: e.message, ...(e.data ? { data: e.data } : {}) } });
    }
  })();
});
