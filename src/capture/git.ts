/**
 * `git`: commits, checkouts, branch switches and other ref moves, read from the
 * reflogs (`logs/HEAD`, `logs/refs/heads/*`) by tailing them from where they
 * were at start. It never walks history, so a repository with a million
 * commits costs the same as a new one.
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

  async start(ctx: ChannelContext): Promise<void> {
    this.ctx = ctx;
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
    for (const f of [path.join(this.gitDir, 'logs', 'HEAD'), ...listFiles(logs[1] as string)]) {
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
        if (size < from) this.offsets.set(file, 0); // rewritten (reflog expire): start over from its end
        if (size <= from) return;
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
    for (const line of text.split('\n')) {
      const entry = parseReflogLine(line);
      if (entry) await this.record(entry, branch);
    }
  }

  /**
   * Reflog times have one-second precision, so events are put on the clock
   * when the reflog line is seen (milliseconds later); the reflog's own time
   * is kept in the data as `reflog_ts`.
   */
  private async record(e: ReflogEntry, branch: string | undefined): Promise<void> {
    const ctx = this.ctx;
    if (!ctx) return;
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
