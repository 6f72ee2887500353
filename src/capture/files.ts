/**
 * `files`: saves, creations and deletions inside the project. Paths and sizes
 * only: contents are never read, and secret files (DESIGN §11, plus the user's
 * `privacy.secretFiles`) are never stat'd, opened or reported: every path is
 * judged by name before any system call names it. Bursts are merged
 * (write-temp-then-rename is one change; add + change is one creation) and what
 * git ignores is dropped before anything is recorded.
 *
 * The tree is watched by a small watcher of our own rather than chokidar:
 * chokidar 6 lists every directory through readdirp with `alwaysStat` and
 * `lstat`, which lstats each entry before its `ignored` predicate is asked, so
 * `.env` beside `package.json` was lstat'd at every scan whatever the predicate
 * said. Nor does git walk the tree for us any more: `git ls-files --others`
 * opened untracked `.ssh/` to look inside.
 */
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
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
  /** Extra ignore globs relative to the project, gitignore syntax (`config.files.ignore`). */
  ignore: readonly string[];
  settleMs: number;
  /** Extra secret-file globs, gitignore syntax (`config.privacy.secretFiles`); DESIGN §11's list always applies. */
  secretFiles?: readonly string[];
}

interface DirFound {
  abs: string;
  ino: number;
}

interface FileFact {
  ino: number;
  mtimeMs: number;
  size: number;
}

// The callback API, promisified: fs.promises costs several times more per call (measured: 9,500
// lstats take 530 ms through fs.promises, 85 ms through callbacks), and a scan makes one per entry.
const lstat = promisify(fs.lstat);
const readdir = promisify(fs.readdir);

const isMissing = (err: unknown): boolean => {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
};

/** Of these directories, the ones git ignores (asked by path only: the names were judged already). */
type GitIgnoredDirs = (dirs: readonly string[]) => Promise<ReadonlySet<string>>;

/**
 * Watches a project tree and reports file creations, changes and deletions.
 * Names are listed with a plain `readdir` (no `withFileTypes`: Node lstats
 * entries whose type the file system does not report) and only names the
 * rules let through are ever lstat'd. Directories are watched one by one on
 * Linux (Node's recursive watch there lstats every file itself); macOS and
 * Windows watch the root natively and recursively, which stats nothing.
 * Trees are walked a level at a time so git is asked once per level which new
 * directories it ignores, instead of walking the tree itself (it would open
 * untracked `.ssh/` to look inside). Everything runs on one queue, so the
 * known-file map has one writer.
 */
class TreeWatcher {
  private readonly files = new Map<string, FileFact>();
  private readonly dirs = new Map<string, { ino: number; watcher?: fs.FSWatcher }>();
  private readonly recursive = process.platform === 'darwin' || process.platform === 'win32';
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly rules: IgnoreRules,
    private readonly gitIgnored: GitIgnoredDirs,
    private readonly report: (abs: string, kind: Kind) => void,
    private readonly fault: (err: unknown) => void,
  ) {}

  /** Lists and watches the tree; what is already there is not reported. Throws when the root cannot be watched. */
  async start(): Promise<void> {
    const root = this.rules.root;
    const st = await lstat(root);
    if (!st.isDirectory()) throw new Error(`${root} is not a directory`);
    this.dirs.set(root, { ino: st.ino, watcher: this.watch(root) });
    const names = await readdir(root);
    let failure: unknown;
    await this.enqueue(async () => {
      try {
        await this.addTrees(await this.examineAll(root, names, true), true);
      } catch (err) {
        failure = err;
      }
    });
    if (failure) throw failure;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const d of this.dirs.values()) d.watcher?.close();
    this.dirs.clear();
    await this.queue;
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(() => (this.closed ? undefined : task())).catch((err: unknown) => this.fault(err));
    return this.queue;
  }

  private watch(dir: string): fs.FSWatcher {
    const w = fs.watch(dir, { persistent: true, recursive: this.recursive, encoding: 'utf8' }, (_event, name) => {
      void this.enqueue(() => (name ? this.onEvent(dir, name) : this.rescan(dir)));
    });
    // A watched directory that goes away can report an error; its parent reports the removal itself.
    w.on('error', (err: NodeJS.ErrnoException) => {
      if (!isMissing(err) && err.code !== 'EPERM') this.fault(err);
      void this.enqueue(() => this.visit(dir, false));
    });
    return w;
  }

  /**
   * Watches and lists new directories a level at a time (unless a recursive
   * watch above already covers them), skipping what git ignores.
   */
  private async addTrees(found: DirFound[], initial: boolean): Promise<void> {
    let level = found;
    while (level.length > 0 && !this.closed) {
      const ignored = await this.gitIgnored(level.map((d) => d.abs));
      const next: DirFound[] = [];
      await Promise.all(
        level.map(async ({ abs, ino }) => {
          if (ignored.has(abs) || this.dirs.has(abs) || this.closed) return;
          let watcher: fs.FSWatcher | undefined;
          try {
            if (!this.recursive) watcher = this.watch(abs);
            this.dirs.set(abs, { ino, watcher });
            next.push(...(await this.examineAll(abs, await readdir(abs), initial)));
          } catch (err) {
            if (!isMissing(err)) this.fault(err); // unreadable, or out of inotify watches: the rest still runs
          }
        }),
      );
      level = next;
    }
  }

  private async examineAll(dir: string, names: string[], initial: boolean): Promise<DirFound[]> {
    const found = await Promise.all(names.map((name) => this.examine(path.join(dir, name), initial)));
    return found.filter((d): d is DirFound => d !== undefined);
  }

  private async onEvent(dir: string, name: string): Promise<void> {
    if (!this.dirs.has(dir)) return; // retired while the event waited
    await this.visit(path.join(dir, name), false);
    // inotify reports a watched directory's own removal under its own name.
    if (!this.recursive && name === path.basename(dir) && dir !== this.rules.root) await this.visit(dir, false);
  }

  /** A watch event without a name: compare a fresh listing with what is known. */
  private async rescan(dir: string): Promise<void> {
    if (!this.dirs.has(dir)) return;
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if (!isMissing(err)) this.fault(err);
      if (dir !== this.rules.root) await this.visit(dir, false);
      return;
    }
    const present = new Set(names.map((n) => path.join(dir, n)));
    for (const known of [...this.files.keys(), ...this.dirs.keys()]) {
      if (path.dirname(known) === dir && !present.has(known)) this.gone(known);
    }
    await this.addTrees(await this.examineAll(dir, names, false), false);
  }

  private async visit(abs: string, initial: boolean): Promise<void> {
    const dir = await this.examine(abs, initial);
    if (dir) await this.addTrees([dir], initial);
  }

  /**
   * Brings one path up to date and returns it when it is a directory not yet
   * watched. The rules see the name first: nothing they skip is ever stat'd.
   */
  private async examine(abs: string, initial: boolean): Promise<DirFound | undefined> {
    if (this.closed || this.rules.ignores(abs)) return undefined;
    let st: fs.Stats;
    try {
      st = await lstat(abs);
    } catch (err) {
      if (isMissing(err)) this.gone(abs);
      else this.fault(err);
      return undefined;
    }
    if (this.closed) return undefined;
    if (st.isDirectory()) {
      if (this.files.has(abs)) this.gone(abs);
      const known = this.dirs.get(abs);
      if (known && known.ino === st.ino) return undefined; // its own watch reports what happens inside
      if (known) this.gone(abs); // removed and made again before we looked
      return this.rules.ignores(abs, true) ? undefined : { abs, ino: st.ino };
    }
    if (this.dirs.has(abs)) this.gone(abs);
    // Symlinks are not followed and, like sockets and FIFOs, not reported.
    if (!st.isFile()) {
      if (this.files.has(abs)) this.gone(abs);
      return undefined;
    }
    const prev = this.files.get(abs);
    this.files.set(abs, { ino: st.ino, mtimeMs: st.mtimeMs, size: st.size });
    if (initial) return undefined;
    if (!prev) this.report(abs, 'created');
    // A chmod also wakes the watch: only content, size or identity changes count.
    else if (prev.ino !== st.ino || prev.mtimeMs !== st.mtimeMs || prev.size !== st.size) this.report(abs, 'changed');
    return undefined;
  }

  /** `abs` is no longer there: report it, and everything known below it when it was a directory. */
  private gone(abs: string): void {
    if (this.files.delete(abs)) this.report(abs, 'deleted');
    const dir = this.dirs.get(abs);
    if (!dir) return;
    dir.watcher?.close();
    this.dirs.delete(abs);
    const below = `${abs}${path.sep}`;
    for (const f of [...this.files.keys()]) {
      if (f.startsWith(below)) {
        this.files.delete(f);
        this.report(f, 'deleted');
      }
    }
    for (const [d, entry] of [...this.dirs]) {
      if (d.startsWith(below)) {
        entry.watcher?.close();
        this.dirs.delete(d);
      }
    }
  }
}

export class FilesChannel implements ChannelDriver {
  readonly id = 'files';
  readonly kind = 'event' as const;
  private tree: TreeWatcher | undefined;
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
    const rules = new IgnoreRules(root, this.opts.ignore, this.opts.secretFiles ?? []);
    this.rules = rules;
    const inside = await run('git', ['rev-parse', '--is-inside-work-tree'], { cwd: root, env: ctx.env });
    this.isGit = inside.code === 0 && inside.stdout.trim() === 'true';
    if (this.isGit) await this.readTracked(root, rules, ctx);
    const tree = new TreeWatcher(
      rules,
      (dirs) => this.gitIgnoredDirs(dirs),
      (abs, kind) => this.note(abs, kind),
      (err) => {
        ctx.logger.warn({ err }, 'file watcher error');
        ctx.setHealth('degraded', `watcher error: ${(err as Error).message}`);
      },
    );
    try {
      await tree.start();
    } catch (err) {
      await tree.close();
      throw new TracedError(ErrorCodes.CHANNEL_START_FAILED, `cannot watch ${root}: ${(err as Error).message}`, { cause: err });
    }
    this.tree = tree;
    ctx.setHealth('running', this.isGit ? 'watching (git-ignored paths skipped)' : 'watching (not a git repository)');
  }

  /**
   * What git tracks, asked once at start: a tracked file under `build/` or
   * `dist/` is watched though those names are skipped by default, and so is a
   * git-ignored directory holding a tracked file. Paths only; nothing is read.
   */
  private async readTracked(root: string, rules: IgnoreRules, ctx: ChannelContext): Promise<void> {
    // Run in the project folder, git lists what is under it, relative to it.
    const res = await run('git', ['ls-files', '-z'], { cwd: root, env: ctx.env, timeoutMs: 30_000, maxBytes: 256 * 1024 * 1024 });
    if (res.code !== 0) {
      ctx.logger.warn({ stderr: res.stderr.slice(0, 500) }, 'git ls-files failed: default-ignored directories stay ignored');
      return;
    }
    rules.addTracked(res.stdout.split('\0').filter(Boolean));
  }

  /**
   * Which of these directories git ignores; they are skipped by name from then on.
   * Only paths the rules let through are passed: git lstats each one and reads
   * the `.gitignore` files above it, never anything inside a secret's name.
   */
  private async gitIgnoredDirs(dirs: readonly string[]): Promise<ReadonlySet<string>> {
    const ctx = this.ctx;
    const rules = this.rules;
    const out = new Set<string>();
    if (!this.isGit || !ctx || !rules || dirs.length === 0) return out;
    const byRel = new Map(dirs.map((d) => [`${rules.rel(d)}/`, d]));
    const res = await run('git', ['check-ignore', '-z', '--stdin'], {
      cwd: rules.root,
      env: ctx.env,
      input: `${[...byRel.keys()].join('\0')}\0`,
      timeoutMs: 30_000,
    });
    // exit 1 = nothing ignored; anything else but 0 means git could not answer: watch them all
    if (res.code !== 0) return out;
    for (const rel of res.stdout.split('\0')) {
      const abs = byRel.get(rel);
      if (abs === undefined || rules.holdsTracked(rel)) continue;
      out.add(abs);
      rules.addGitIgnored(rel);
    }
    return out;
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
      // Secret names never reach here; checked again because this is the one other place that stats.
      if (!rel || ignored.has(rel) || rules.isSecret(abs)) continue;
      let size: number | undefined;
      if (p.kind !== 'deleted') {
        try {
          const st = await lstat(abs);
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
    // Close the watch first, so what it reports while closing is still flushed below.
    const t = this.tree;
    this.tree = undefined;
    await t?.close();
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.flushing = this.flushing.then(() => this.flush());
    }
    await this.flushing;
  }
}
