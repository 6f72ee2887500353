/**
 * `git`: commits, checkouts, branch switches and other ref moves, read from the
 * reflogs (`logs/HEAD`, `logs/refs/heads/*`) by tailing them from where they
 * were at start. It never walks history, so a repository with a million
 * commits costs the same as a new one.
 *
 * Tailing shows only what moves; where HEAD stood when the session started is
 * a `git.state` event recorded at start (and again at resume: what moved while
 * paused was not recorded): HEAD, branch, upstream, ahead/behind and how many
 * files have changes. It comes from `git status --porcelain=v2` (git's stable
 * format for scripts, one process) without optional locks, so it never holds
 * index.lock against the user's own git; file names are counted, never kept.
 */
import fs from 'node:fs';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { EventData } from '../model.js';
import type { ChannelContext, ChannelDriver } from './channel.js';
import { run } from './proc.js';

export interface ReflogEntry {
  old: string;
  new: string;
  ts: number;
  message: string;
}

/** Parses one reflog line: `<old> <new> <name> <email> <epoch> <tz>\t<message>`. */
export function parseReflogLine(line: string): ReflogEntry | undefined {
  const m = /^([0-9a-f]{40,64}) ([0-9a-f]{40,64}) .*? (\d+) [+-]\d{4}\t(.*)$/.exec(line);
  if (!m) return undefined;
  return { old: m[1] as string, new: m[2] as string, ts: Number(m[3]) * 1000, message: m[4] as string };
}

const ZERO = /^0+$/;
/** `git status` on a huge work tree can take seconds; past this the state is HEAD and branch alone (cheap). */
const STATE_TIMEOUT_MS = 5000;

/** The repository as `git.state` records it. */
export interface GitState {
  hash: string | null;
  branch: string | null;
  upstream: string | null;
  ahead: number | null;
  behind: number | null;
  /** Tracked files with staged or unstaged changes (conflicts included). */
  dirty_files: number | null;
  untracked_files: number | null;
}

/** Parses `git status --porcelain=v2 --branch -z`; undefined when it is not that. */
export function parseStatusV2(out: string): GitState | undefined {
  const st: GitState = { hash: null, branch: null, upstream: null, ahead: null, behind: null, dirty_files: 0, untracked_files: 0 };
  let sawOid = false;
  const parts = out.split('\0');
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i] as string;
    if (p.startsWith('# branch.oid ')) {
      sawOid = true;
      const oid = p.slice(13);
      st.hash = /^[0-9a-f]{40,64}$/.test(oid) ? oid : null;
    } else if (p.startsWith('# branch.head ')) {
      const head = p.slice(14);
      st.branch = head === '(detached)' ? null : head;
    } else if (p.startsWith('# branch.upstream ')) st.upstream = p.slice(18);
    else if (p.startsWith('# branch.ab ')) {
      const m = /^\+(\d+) -(\d+)$/.exec(p.slice(12));
      if (m) {
        st.ahead = Number(m[1]);
        st.behind = Number(m[2]);
      }
    } else if (p.startsWith('1 ') || p.startsWith('u ')) st.dirty_files = (st.dirty_files as number) + 1;
    else if (p.startsWith('2 ')) {
      st.dirty_files = (st.dirty_files as number) + 1;
      i++; // a rename's or copy's original path is the next field
    } else if (p.startsWith('? ')) st.untracked_files = (st.untracked_files as number) + 1;
  }
  return sawOid ? st : undefined;
}

export class GitChannel implements ChannelDriver {
  readonly id = 'git';
  readonly kind = 'event' as const;
  private watcher: FSWatcher | undefined;
  private ctx: ChannelContext | undefined;
  private offsets = new Map<string, number>();
  private chain: Promise<void> = Promise.resolve();
  private gitDir = '';
  private commonDir = '';
  private root = '';
  private paused = false;
  /** Per reflog, the bytes [from, to) written while the session was paused. */
  private readonly skip = new Map<string, [number, number]>();

  async start(ctx: ChannelContext): Promise<void> {
    this.ctx = ctx;
    const startedAt = Date.now();
    const res = await run('git', ['rev-parse', '--show-toplevel', '--absolute-git-dir', '--git-common-dir'], { cwd: ctx.project, env: ctx.env });
    if (res.spawnError) {
      ctx.setHealth('unavailable', 'git is not installed');
      return;
    }
    if (res.code !== 0) {
      ctx.setHealth('unavailable', 'the project is not a git repository');
      return;
    }
    const [top, gitDir, common] = res.stdout.trim().split('\n');
    this.root = top as string;
    this.gitDir = gitDir as string;
    this.commonDir = path.resolve(ctx.project, common as string);
    const logs = [path.join(this.gitDir, 'logs'), path.join(this.commonDir, 'logs', 'refs', 'heads')];
    for (const dir of logs) fs.mkdirSync(dir, { recursive: true });
    // Start every existing reflog at its current end: only what happens from now on is recorded.
    for (const f of this.reflogs()) {
      try {
        this.offsets.set(f, fs.statSync(f).size);
      } catch {
        // not created yet: it will be read from 0 when it appears
      }
    }
    const watcher = watch(logs, { ignoreInitial: true, persistent: true, depth: 8 });
    this.watcher = watcher;
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    const onFile = (f: string) => {
      this.chain = this.chain.then(() => this.readNew(f)).catch((err: unknown) => ctx.logger.warn({ err, file: f }, 'reading reflog failed'));
    };
    watcher.on('add', onFile);
    watcher.on('change', onFile);
    watcher.on('error', (err: unknown) => ctx.setHealth('degraded', `watcher error: ${(err as Error).message}`));
    ctx.setHealth('running', `watching ${this.root}`);
    // After the reflog offsets: a commit made meanwhile shows in the state and as an event, never in neither.
    // HEAD as the session found it: only what the reflogs show from here on moves it. Awaited (bounded by
    // STATE_TIMEOUT_MS), so the event is on its way before start_session answers, not a write after it.
    await this.noteState('start', startedAt);
  }

  private reflogs(): string[] {
    return [path.join(this.gitDir, 'logs', 'HEAD'), ...listFiles(path.join(this.commonDir, 'logs', 'refs', 'heads'))];
  }

  private sizes(): Map<string, number> {
    const out = new Map<string, number>();
    for (const f of this.reflogs()) {
      try {
        out.set(f, fs.statSync(f).size);
      } catch {
        // not there (yet): nothing of it to skip
      }
    }
    return out;
  }

  /** From here on, what is written to the reflogs is not recorded (until resume). */
  async pause(): Promise<void> {
    if (!this.watcher) return;
    this.paused = true;
    for (const [f, size] of this.sizes()) this.skip.set(f, [size, Number.POSITIVE_INFINITY]);
  }

  /**
   * What was written to the reflogs while paused is not recorded, even when
   * the watcher reports it after the resume; HEAD may have moved meanwhile, so
   * the state is read again.
   */
  async resume(): Promise<void> {
    if (!this.watcher) return;
    const now = this.sizes();
    for (const [f, size] of now) {
      const range = this.skip.get(f) ?? [0, 0];
      if (range[1] === Number.POSITIVE_INFINITY || !this.skip.has(f)) this.skip.set(f, [range[0], size]);
    }
    for (const [f, range] of this.skip) if (range[1] === Number.POSITIVE_INFINITY) this.skip.set(f, [range[0], now.get(f) ?? 0]);
    this.paused = false;
    await this.noteState('resume');
  }

  /** Whether the reflog line at byte `at` of `file` was written while paused. */
  private skipped(file: string, at: number): boolean {
    const r = this.skip.get(file);
    if (r) return at >= r[0] && at < r[1];
    return this.paused; // a reflog that appeared while paused
  }

  /** Queues a `git.state` read before any reflog line seen later, on the clock of the moment it was asked for. */
  private noteState(reason: 'start' | 'resume', ts = Date.now()): Promise<void> {
    const ctx = this.ctx;
    if (!ctx) return Promise.resolve();
    this.chain = this.chain
      .then(() => this.readState())
      .then((state) => ctx.emit('git.state', { reason, ...state, detached: state.hash !== null && state.branch === null }, { ts }))
      .catch((err: unknown) => ctx.logger.warn({ err }, 'reading the repository state failed'));
    return this.chain;
  }

  private async readState(): Promise<GitState & { subject: string | null }> {
    const env = { ...this.ctx?.env, GIT_OPTIONAL_LOCKS: '0' };
    const opts = { cwd: this.root, env, timeoutMs: STATE_TIMEOUT_MS };
    const status = await run('git', ['--no-optional-locks', 'status', '--porcelain=v2', '--branch', '-z', '--untracked-files=normal'], opts);
    let state = status.code === 0 ? parseStatusV2(status.stdout) : undefined;
    if (!state) {
      const head = await run('git', ['rev-parse', '--verify', '-q', 'HEAD'], opts);
      const hash = head.stdout.trim();
      state = {
        hash: head.code === 0 && /^[0-9a-f]{40,64}$/.test(hash) ? hash : null,
        branch: await this.currentBranch(),
        upstream: null,
        ahead: null,
        behind: null,
        dirty_files: null,
        untracked_files: null,
      };
    }
    const subject = state.hash ? (await run('git', ['show', '-s', '--format=%s', state.hash], opts)).stdout.trim() || null : null;
    return { ...state, subject };
  }

  private async readNew(file: string): Promise<void> {
    const isHead = path.basename(file) === 'HEAD' && path.dirname(file) === path.join(this.gitDir, 'logs');
    const headsDir = path.join(this.commonDir, 'logs', 'refs', 'heads');
    const branch = isHead ? undefined : path.relative(headsDir, file).split(path.sep).join('/');
    if (!isHead && (!branch || branch.startsWith('..'))) return;
    const from = this.offsets.get(file) ?? 0;
    let text: string;
    try {
      const fd = await fs.promises.open(file, 'r');
      try {
        const size = (await fd.stat()).size;
        if (size < from) {
          // Rewritten (reflog expire, gc): carry on from its new end; replaying it from 0 would repeat old history as new.
          this.offsets.set(file, size);
          this.skip.delete(file);
          return;
        }
        if (size === from) return;
        const buf = Buffer.alloc(size - from);
        await fd.read(buf, 0, buf.length, from);
        const lastNl = buf.lastIndexOf(0x0a);
        if (lastNl < 0) return; // a line still being written
        this.offsets.set(file, from + lastNl + 1);
        text = buf.subarray(0, lastNl).toString('utf8');
      } finally {
        await fd.close();
      }
    } catch {
      return; // removed between the event and the read (branch deleted)
    }
    let pos = from;
    for (const line of text.split('\n')) {
      const at = pos;
      pos += Buffer.byteLength(line) + 1;
      if (this.skipped(file, at)) continue;
      const entry = parseReflogLine(line);
      // Checked again when the event is ready: reading a commit's files takes a moment, and a pause may come in it.
      if (entry) await this.record(entry, branch, () => !this.skipped(file, at));
    }
  }

  /**
   * Reflog times have one-second precision, so events are put on the clock
   * when the reflog line is seen (milliseconds later); the reflog's own time
   * is kept in the data as `reflog_ts`.
   */
  private async record(e: ReflogEntry, branch: string | undefined, wanted: () => boolean = () => true): Promise<void> {
    const c = this.ctx;
    if (!c) return;
    const ctx = { emit: (type: string, data: EventData) => wanted() && c.emit(type, data) };
    const msg = e.message;
    if (branch !== undefined) {
      // Branch logs only add what HEAD's log does not show: creations and renames.
      if (/^branch: Created from /.test(msg)) ctx.emit('git.branch.created', { branch, from: msg.replace(/^branch: Created from /, ''), hash: e.new });
      else if (/^Branch: renamed /i.test(msg)) ctx.emit('git.branch.renamed', { branch, message: msg });
      return;
    }
    const commit = /^commit( \((initial|amend|merge)\))?: (.*)$/.exec(msg);
    if (commit) {
      const info = await this.commitInfo(e.new);
      ctx.emit('git.commit', {
        hash: e.new,
        parent: ZERO.test(e.old) ? null : e.old,
        reflog_ts: e.ts,
        subject: commit[3] ?? info.subject,
        kind: commit[2] ?? 'normal',
        branch: await this.currentBranch(),
        files: info.files,
        author: info.author,
      });
      return;
    }
    const checkout = /^checkout: moving from (.+) to (.+)$/.exec(msg);
    if (checkout) {
      const to = checkout[2] as string;
      const current = await this.currentBranch();
      const data: EventData = { from: checkout[1], to, hash: e.new, branch: current, detached: current === null };
      ctx.emit(current !== null && current !== checkout[1] ? 'git.branch.switched' : 'git.checkout', data);
      return;
    }
    const action = (/^([a-z-]+(?: \([a-z-]+\))?)/.exec(msg)?.[1] ?? 'update').replace(/ \(.*\)$/, '');
    const type = ['reset', 'merge', 'rebase', 'pull', 'cherry-pick', 'revert'].includes(action) ? `git.${action.replace('-', '_')}` : 'git.ref';
    ctx.emit(type, { action, message: msg, from: e.old, hash: e.new, branch: await this.currentBranch() });
  }

  private async currentBranch(): Promise<string | null> {
    const ctx = this.ctx;
    if (!ctx) return null;
    const res = await run('git', ['symbolic-ref', '-q', '--short', 'HEAD'], { cwd: this.root, env: ctx.env });
    return res.code === 0 ? res.stdout.trim() : null;
  }

  private async commitInfo(hash: string): Promise<{ subject: string; author: string; files: { path: string; status: string }[] }> {
    const ctx = this.ctx;
    const env = ctx?.env;
    const head = await run('git', ['show', '-s', '--format=%s%x00%an', hash], { cwd: this.root, env });
    const [subject = '', author = ''] = head.stdout.replace(/\n$/, '').split('\0');
    const diff = await run('git', ['diff-tree', '--no-commit-id', '--name-status', '-r', '-z', '--root', '-M', hash], { cwd: this.root, env });
    const files: { path: string; status: string }[] = [];
    const parts = diff.stdout.split('\0').filter((p) => p !== '');
    for (let i = 0; i < parts.length; ) {
      const status = parts[i++] as string;
      if (status.startsWith('R') || status.startsWith('C')) {
        i++; // old name of a rename or copy
      }
      const p = parts[i++];
      if (p !== undefined && files.length < 500) files.push({ path: p, status: status[0] ?? '?' });
    }
    return { subject, author, files };
  }

  async stop(): Promise<void> {
    const w = this.watcher;
    this.watcher = undefined;
    await w?.close();
    await this.chain;
  }
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const ent of entries) {
      const p = path.join(d, ent.name);
      if (ent.isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk(dir);
  return out;
}
