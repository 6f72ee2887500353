/**
 * Where HEAD stood before the session's first commit: the git channel records
 * the repository's state at start (and at resume), and replay_at answers with
 * it until a commit in the session moves HEAD. A real repository with an
 * upstream, a dirty file and an untracked one, in a temp dir.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GitChannel, parseStatusV2 } from '../../src/capture/git.js';
import type { RecordedEvent } from '../../src/model.js';
import { git, makeRepo, tempDir, waitFor } from '../helpers/env.js';
import { testServices } from '../helpers/services.js';

const hasGit = spawnSync('sh', ['-c', 'command -v git']).status === 0;
if (!hasGit && process.env.CI === 'true') throw new Error('CI: git is missing (apt-get install git)');
if (!hasGit) console.warn('SKIPPED git state tests: git is not installed');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!hasGit)('git.state', () => {
  it('replay_at before the first commit of the session gives the HEAD and branch it started on; after a commit, the new HEAD', async () => {
    const repo = await makeRepo();
    const origin = path.join(tempDir('origin-'), 'origin.git');
    await git(repo, 'clone', '-q', '--bare', repo, origin);
    await git(repo, 'remote', 'add', 'origin', origin);
    await git(repo, 'fetch', '-q', 'origin');
    await git(repo, 'branch', '-q', '-u', 'origin/main');
    fs.writeFileSync(path.join(repo, 'queue.ts'), 'export const q = [];\n');
    await git(repo, 'add', 'queue.ts');
    await git(repo, 'commit', '-qm', 'Add queue');
    const startHead = (await git(repo, 'rev-parse', 'HEAD')).trim();
    fs.writeFileSync(path.join(repo, 'README.md'), '# demo, changed\n');
    fs.writeFileSync(path.join(repo, 'notes.txt'), 'untracked\n');

    const t = testServices({ channels: { git: new GitChannel() } });
    const { session } = await t.services.recorder.start({ project: repo, channels: [{ id: 'git', store: true }] });
    const byType = (type: string) => t.store.events({ sessionId: session.id, types: [type], limit: 100 }) as RecordedEvent[];
    const [state] = await waitFor(() => (byType('git.state').length ? byType('git.state') : undefined), { what: 'git.state' });
    expect(state!.data).toMatchObject({
      reason: 'start',
      hash: startHead,
      branch: 'main',
      detached: false,
      subject: 'Add queue',
      upstream: 'origin/main',
      ahead: 1,
      behind: 0,
      dirty_files: 1,
      untracked_files: 1,
    });
    // File names of the work tree are counted, never recorded.
    expect(JSON.stringify(state!.data)).not.toContain('notes.txt');

    await sleep(1100);
    await git(repo, 'commit', '-qam', 'Change readme');
    const newHead = (await git(repo, 'rev-parse', 'HEAD')).trim();
    const [commit] = await waitFor(() => (byType('git.commit').length ? byType('git.commit') : undefined), { what: 'the commit' });
    expect(commit!.offset_ms).toBeGreaterThan(state!.offset_ms);

    const at = (offset: number) => t.services.replay.replayAt({ session: session.id, at: offset, tolerance_ms: 0, window_ms: 0, include_frame: false });
    for (const offset of [0, state!.offset_ms, Math.floor((state!.offset_ms + commit!.offset_ms) / 2), commit!.offset_ms - 1]) {
      expect(at(offset).git_head, `at ${offset}`).toMatchObject({
        from: 'git.state',
        hash: startHead,
        branch: 'main',
        subject: 'Add queue',
        upstream: 'origin/main',
        ahead: 1,
        behind: 0,
        dirty_files: 1,
      });
    }
    expect(at(commit!.offset_ms).git_head).toMatchObject({ from: 'git.commit', hash: newHead, branch: 'main', subject: 'Change readme' });

    // While paused nothing is recorded; at resume the state is read again, so HEAD after it is right.
    await t.services.recorder.pause();
    await git(repo, 'checkout', '-qb', 'feature');
    await git(repo, 'commit', '-q', '--allow-empty', '-m', 'While paused');
    const pausedHead = (await git(repo, 'rev-parse', 'HEAD')).trim();
    await t.services.recorder.resume();
    const resumed = await waitFor(() => byType('git.state').find((e) => e.data.reason === 'resume'), { what: 'git.state at resume' });
    expect(resumed.data).toMatchObject({ hash: pausedHead, branch: 'feature', subject: 'While paused', upstream: null, ahead: null, behind: null });
    expect(byType('git.commit').map((e) => e.data.subject)).toEqual(['Change readme']);
    expect(at(resumed.offset_ms).git_head).toMatchObject({ from: 'git.state', hash: pausedHead, branch: 'feature' });
    // And what comes after the resume is recorded again.
    await sleep(1100);
    await git(repo, 'commit', '-q', '--allow-empty', '-m', 'After resume');
    await waitFor(() => byType('git.commit').find((e) => e.data.subject === 'After resume'), { what: 'the commit after resume' });
    expect(byType('git.commit').map((e) => e.data.subject)).toEqual(['Change readme', 'After resume']);
    await t.services.recorder.stop();
  }, 30_000);

  it('a repository without commits and a detached HEAD are states too', async () => {
    const empty = tempDir('empty-');
    await git(empty, 'init', '-q', '-b', 'trunk');
    const t = testServices({ channels: { git: new GitChannel() } });
    const { session } = await t.services.recorder.start({ project: empty, channels: [{ id: 'git', store: true }] });
    const state = await waitFor(() => t.store.events({ sessionId: session.id, types: ['git.state'], limit: 10 })[0], { what: 'git.state' });
    expect(state.data).toMatchObject({ hash: null, branch: 'trunk', detached: false, subject: null, dirty_files: 0 });
    await t.services.recorder.stop();

    const repo = await makeRepo();
    await git(repo, 'checkout', '-q', '--detach');
    const head = (await git(repo, 'rev-parse', 'HEAD')).trim();
    const t2 = testServices({ channels: { git: new GitChannel() } });
    const s2 = (await t2.services.recorder.start({ project: repo, channels: [{ id: 'git', store: true }] })).session;
    const st2 = await waitFor(() => t2.store.events({ sessionId: s2.id, types: ['git.state'], limit: 10 })[0], { what: 'git.state' });
    expect(st2.data).toMatchObject({ hash: head, branch: null, detached: true, subject: 'initial commit' });
    await t2.services.recorder.stop();
  }, 30_000);

  it('parses porcelain v2: renames take two fields, conflicts and untracked files are counted', () => {
    const oid = 'a'.repeat(40);
    const out = [
      `# branch.oid ${oid}`,
      '# branch.head dev',
      '# branch.upstream origin/dev',
      '# branch.ab +2 -3',
      '1 .M N... 100644 100644 100644 x y src/a.ts',
      '2 R. N... 100644 100644 100644 x y R100 src/new.ts',
      'src/old.ts',
      'u UU N... 100644 100644 100644 100644 x y z src/c.ts',
      '? notes.txt',
      '! ignored.log',
      '',
    ].join('\0');
    expect(parseStatusV2(out)).toEqual({ hash: oid, branch: 'dev', upstream: 'origin/dev', ahead: 2, behind: 3, dirty_files: 3, untracked_files: 1 });
    expect(parseStatusV2('fatal: not a git repository')).toBeUndefined();
  });
});
