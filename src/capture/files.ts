/**
 * `files`: saves, creations and deletions inside the project. Paths and sizes
 * only: contents are never read, and `.env`-like files are never touched.
 * Bursts are merged (write-temp-then-rename is one change; add + change is one
 * creation) and what git ignores is dropped before anything is recorded.
 */
import fs from 'node:fs';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { ErrorCodes, TracedError } from '../errors.js';
import type { ChannelContext, ChannelDriver } from './channel.js';
import { IgnoreRules } from './ignore.js';
import { run } from './proc.js';

type Kind = 'created' | 'changed' | 'deleted';

interface Pending {
  kind: Kind;
  ts: number;
}

export interface FilesOptions {
  ignore: readonly string[];
  settleMs: number;
}

export class FilesChannel implements ChannelDriver {
  readonly id = 'files';
  readonly kind = 'event' as const;
  private watcher: FSWatcher | undefined;
  private ctx: ChannelContext | undefined;
  private rules: IgnoreRules | undefined;
  private pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | undefined;
  private firstPendingAt = 0;
  private flushing: Promise<void> = Promise.resolve();
  private isGit = false;

  constructor(private readonly opts: FilesOptions) {}

  async start(ctx: ChannelContext): Promise<void> {
    this.ctx = ctx;
    const root = path.resolve(ctx.project);
    const rules = new IgnoreRules(root, this.opts.ignore);
    this.rules = rules;
    const ls = await run('git', ['ls-files', '--others', '--ignored', '--exclude-standard', '--directory', '-z'], { cwd: root, env: ctx.env, timeoutMs: 30_000 });
    if (ls.code === 0) {
      this.isGit = true;
      for (const p of ls.stdout.split('\0')) if (p) rules.addGitIgnored(p);
    }
    const watcher = watch(root, {
      ignoreInitial: true,
      atomic: true,
      persistent: true,
      followSymlinks: false,
      ignored: (p: string) => rules.ignores(p),
    });
    this.watcher = watcher;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: unknown) => reject(new TracedError(ErrorCodes.CHANNEL_START_FAILED, `cannot watch ${root}: ${(err as Error).message}`, { cause: err }));
      watcher.once('error', onError);
      watcher.once('ready', () => {
        watcher.off('error', onError);
        resolve();
      });
    });
    watcher.on('add', (p: string) => this.note(p, 'created'));
    watcher.on('change', (p: string) => this.note(p, 'changed'));
    watcher.on('unlink', (p: string) => this.note(p, 'deleted'));
    watcher.on('error', (err: unknown) => {
      ctx.logger.warn({ err }, 'file watcher error');
      ctx.setHealth('degraded', `watcher error: ${(err as Error).message}`);
    });
    ctx.setHealth('running', this.isGit ? 'watching (git-ignored paths skipped)' : 'watching (not a git repository)');
  }

  private note(abs: string, kind: Kind): void {
    const now = Date.now();
    const prev = this.pending.get(abs);
    if (!prev) {
      this.pending.set(abs, { kind, ts: now });
    } else if (prev.kind === 'created' && kind === 'deleted') {
      this.pending.delete(abs); // a temp file that came and went
    } else if (prev.kind === 'created') {
      prev.ts = now; // created then written: still a creation
    } else if (prev.kind === 'deleted' && kind === 'created') {
      this.pending.set(abs, { kind: 'changed', ts: now }); // replaced by rename
    } else {
      this.pending.set(abs, { kind, ts: now });
    }
    if (this.pending.size === 1 || !this.timer) this.firstPendingAt = now;
    if (this.timer) clearTimeout(this.timer);
    // Debounce, but never hold a change back longer than a second under a steady stream of writes.
    const wait = Math.max(0, Math.min(this.opts.settleMs, this.firstPendingAt + 1000 - now));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flushing = this.flushing.then(() => this.flush());
    }, wait);
  }

  private async flush(): Promise<void> {
    const ctx = this.ctx;
    const rules = this.rules;
    if (!ctx || !rules || this.pending.size === 0) return;
    const batch = [...this.pending.entries()];
    this.pending.clear();
    let ignored = new Set<string>();
    if (this.isGit) {
      const rels = batch.map(([abs]) => rules.rel(abs) ?? '').filter(Boolean);
      const res = await run('git', ['check-ignore', '-z', '--stdin'], { cwd: rules.root, env: ctx.env, input: `${rels.join('\0')}\0` });
      // exit 1 = nothing ignored; anything else but 0 means git could not answer: keep the events
      if (res.code === 0) ignored = new Set(res.stdout.split('\0').filter(Boolean));
    }
    for (const [abs, p] of batch.sort((a, b) => a[1].ts - b[1].ts)) {
      const rel = rules.rel(abs);
      if (!rel || ignored.has(rel)) continue;
      let size: number | undefined;
      if (p.kind !== 'deleted') {
        try {
          const st = await fs.promises.lstat(abs);
          if (!st.isFile()) continue;
          size = st.size;
        } catch {
          continue; // gone again before we looked: nothing to report
        }
      }
      ctx.emit(`file.${p.kind}`, size === undefined ? { path: rel, kind: p.kind } : { path: rel, kind: p.kind, size }, { ts: p.ts });
    }
  }

  async stop(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.flushing = this.flushing.then(() => this.flush());
    }
    await this.flushing;
    const w = this.watcher;
    this.watcher = undefined;
    await w?.close();
  }
}
