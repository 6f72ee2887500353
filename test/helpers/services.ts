/**
 * Services for unit tests, built the way the daemon builds them
 * (buildServices), around a real SQLite store in a temp TRACED_HOME, with
 * channel drivers and upload targets the test chooses.
 */
import fs from 'node:fs';
import pino from 'pino';
import { afterAll } from 'vitest';
import type { ChannelDriver } from '../../src/capture/channel.js';
import { loadConfig } from '../../src/config/config.js';
import { resolvePaths } from '../../src/config/paths.js';
import { type BuildOptions, buildServices, type Built } from '../../src/daemon/main.js';
import type { UploadTarget } from '../../src/queue/queue.js';
import { Store } from '../../src/timeline/store.js';
import { tempDir } from './env.js';

const open: Store[] = [];
afterAll(() => {
  for (const s of open.splice(0)) {
    try {
      s.close();
    } catch {
      // the test closed it itself
    }
  }
});

export interface TestServices extends Built {
  home: string;
  paths: ReturnType<typeof resolvePaths>;
  /** Notification topics, in order. */
  notes: string[];
  /** The same store and folders with freshly built services (what a restarted daemon sees). */
  rebuild(): Built;
}

export function testServices(
  opts: {
    channels?: Record<string, ChannelDriver>;
    config?: Record<string, unknown>;
    targets?: Record<string, UploadTarget>;
    home?: string;
    /** The indexer's engines, as the daemon passes them after choosing (built, not started). */
    indexing?: BuildOptions['indexing'];
  } = {},
): TestServices {
  const home = opts.home ?? tempDir('svc-');
  const paths = resolvePaths({ env: { TRACED_HOME: home }, home });
  fs.mkdirSync(paths.sessionsDir, { recursive: true });
  const store = new Store(paths.db);
  open.push(store);
  const notes: string[] = [];
  const build = (): Built =>
    buildServices({
      store,
      paths,
      config: loadConfig({ env: {}, file: opts.config ?? {} }),
      logger: pino({ level: 'silent' }),
      env: {},
      cwd: home,
      version: 'test',
      notify: (topic) => notes.push(topic),
      channelFactory: (spec) => opts.channels?.[spec.id],
      targets: () => new Map(Object.entries(opts.targets ?? {})),
      indexing: opts.indexing,
    });
  return { ...build(), home, paths, notes, rebuild: build };
}
