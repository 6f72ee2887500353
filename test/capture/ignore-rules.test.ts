import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { ChannelContext } from '../../src/capture/channel.js';
import { FilesChannel } from '../../src/capture/files.js';
import { IGNORED_DIRS, IgnoreRules, isSecretFile } from '../../src/capture/ignore.js';
import type { EventData } from '../../src/model.js';
import { git, tempDir, waitFor } from '../helpers/env.js';

describe('ignore rules judge paths by name alone', () => {
  it('treats every name on DESIGN §11 as secret, in any case and at any depth', () => {
    const secret = [
      '.env',
      '.ENV.local',
      'prod.env',
      '.envrc',
      'server.pem',
      'tls.key',
      'id_rsa',
      'id_rsa.pub',
      'id_ed25519',
      'id_ecdsa',
      'id_dsa',
      '.npmrc',
      '.netrc',
      '.pgpass',
      'credentials',
      'credentials.json',
      'cert.p12',
      'cert.pfx',
      'vault.kdbx',
      'secrets.yaml',
      'prod.secrets',
    ];
    for (const name of secret) expect(isSecretFile(name), name).toBe(true);
    for (const name of ['env.ts', 'environment.ts', 'keys.ts', 'secret.md', 'README.md', 'id.ts']) expect(isSecretFile(name), name).toBe(false);
    const rules = new IgnoreRules('/p', []);
    for (const rel of ['config/.env.local', 'a/b/server.pem', '.ssh/known_hosts', 'home/.ssh', '.gnupg/pubring.kbx', 'credentials/aws.txt']) {
      expect(rules.isSecret(`/p/${rel}`), rel).toBe(true);
      expect(rules.ignores(`/p/${rel}`), rel).toBe(true);
    }
    expect(rules.isSecret('/p/src/index.ts')).toBe(false);
  });

  it("adds the user's secretFiles, directory patterns included, before anything is stat'd", () => {
    const rules = new IgnoreRules('/p', [], ['*.vault', 'private/', '/config/prod.yaml']);
    for (const rel of ['notes.vault', 'a/B.VAULT', 'private', 'private/plan.txt', 'config/prod.yaml']) expect(rules.isSecret(`/p/${rel}`), rel).toBe(true);
    for (const rel of ['sub/config/prod.yaml', 'privateer.ts', 'config/dev.yaml']) expect(rules.isSecret(`/p/${rel}`), rel).toBe(false);
  });

  it('matches user ignore globs with gitignore semantics: classes, negation, directory-only', () => {
    const rules = new IgnoreRules('/p', ['[ab].log', '*.gen.ts', '!keep.gen.ts', 'docs/site/']);
    expect(rules.ignores('/p/a.log')).toBe(true);
    expect(rules.ignores('/p/c.log')).toBe(false);
    expect(rules.ignores('/p/src/x.gen.ts')).toBe(true);
    expect(rules.ignores('/p/src/keep.gen.ts')).toBe(false);
    expect(rules.ignores('/p/docs/site/i.html')).toBe(true);
    expect(rules.ignores('/p/docs/site', true)).toBe(true);
    expect(rules.ignores('/p/docs/site', false)).toBe(false);
  });

  it('never lets a negation or a path outside the project reach a secret', () => {
    const rules = new IgnoreRules('/p', ['!.env'], ['!id_rsa']);
    expect(rules.ignores('/p/.env')).toBe(true);
    expect(rules.ignores('/p/id_rsa')).toBe(true);
    expect(rules.ignores('/elsewhere/x.ts')).toBe(true);
    expect(rules.ignores('/p/../x.ts')).toBe(true);
    expect(rules.ignores('/p/..notes.md')).toBe(false); // a name beginning with two dots is inside the project
  });
});

describe('default-ignored directories hide only what git does not track', () => {
  it('a tracked file under build/ dist/ out/ target/ is seen, an untracked one beside it is not; .git never', () => {
    const rules = new IgnoreRules('/p', []);
    rules.addTracked(['dist/index.js', 'pkg/build/gen/keep.txt', 'target/release/notes.md', '.git/config', 'src/a.ts']);
    for (const rel of ['dist/index.js', 'pkg/build/gen/keep.txt', 'target/release/notes.md', 'src/a.ts']) expect(rules.ignores(`/p/${rel}`), rel).toBe(false);
    for (const rel of ['dist', 'pkg/build', 'pkg/build/gen', 'target', 'target/release']) {
      expect(rules.ignores(`/p/${rel}`, true), rel).toBe(false);
      expect(rules.holdsTracked(`${rel}/`), rel).toBe(true);
    }
    for (const rel of ['dist/new.js', 'pkg/build/other/x.o', 'out/a.txt', 'target/debug/app', '.git/config', '.git', 'node_modules/x/index.js'])
      expect(rules.ignores(`/p/${rel}`), rel).toBe(true);
  });

  it('property: tracked paths pass unless secret or under .git; untracked paths under a default-ignored name never do', () => {
    const seg = fc.constantFrom('src', 'dist', 'build', 'out', 'target', 'node_modules', '.git', 'a', 'lib', '.env', 'x.ts', 'y.js');
    const rel = fc.array(seg, { minLength: 1, maxLength: 4 }).map((p) => p.join('/'));
    fc.assert(
      fc.property(fc.uniqueArray(rel, { maxLength: 12 }), rel, (tracked, probe) => {
        const rules = new IgnoreRules('/p', []);
        rules.addTracked(tracked);
        const parts = probe.split('/');
        const defaultIgnored = parts.some((p) => IGNORED_DIRS.has(p));
        const underVcs = parts.includes('.git');
        const holds = tracked.some((t) => t.startsWith(`${probe}/`) && !t.split('/').includes('.git'));
        const isTracked = tracked.includes(probe);
        const got = rules.ignores(`/p/${probe}`);
        if (rules.isSecret(`/p/${probe}`) || underVcs) expect(got).toBe(true);
        else if (!defaultIgnored) expect(got).toBe(false);
        else expect(got).toBe(!(isTracked || holds));
      }),
      { numRuns: 400 },
    );
  });
});

function recordingContext(project: string, events: { type: string; data: EventData }[]): ChannelContext {
  return {
    sessionId: 'ignore',
    project,
    sessionDir: project,
    startedAt: Date.now(),
    logger: pino({ level: 'silent' }),
    env: process.env,
    emit: (type, data) => events.push({ type, data }),
    setHealth: () => {},
    registerSegment: () => {},
  };
}

const write = (root: string, rel: string, text = `${rel} ${Math.random()}\n`): void => {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), text);
};

describe('files channel in a real git repository: files.ignore and .gitignore semantics', () => {
  it.each([
    ['at the top of the repository', ''],
    ['in a subfolder of it', 'pkg/'],
  ])(
    'project %s: tracked files under build/ dist/ out/ and git-ignored folders are recorded, new output there is not, globs with classes and negation apply',
    async (_what, sub) => {
      const repo = tempDir('ign-');
      await git(repo, 'init', '-q', '-b', 'main');
      const root = path.join(repo, sub);
      const tracked = ['dist/index.js', 'build/keep.txt', 'target/release/notes.md', 'out/tracked.txt', 'vendor/lib.js', 'src/app.ts'];
      write(repo, '.gitignore', 'out/\nvendor/\n*.tmp\n');
      for (const rel of tracked) write(root, rel);
      write(root, 'target/debug/app.o'); // untracked build output, there before the session
      // out/ and vendor/ are git-ignored: their files are added with -f, as vendored code is.
      await git(repo, 'add', '-f', '.gitignore', ...tracked.map((r) => `${sub}${r}`));
      await git(repo, 'commit', '-qm', 'init');

      const events: { type: string; data: EventData }[] = [];
      const channel = new FilesChannel({ ignore: ['[ab].log', '*.gen.ts', '!keep.gen.ts', 'docs/site/'], settleMs: 20 });
      await channel.start(recordingContext(root, events));
      try {
        const seen = ['dist/index.js', 'build/keep.txt', 'target/release/notes.md', 'out/tracked.txt', 'vendor/lib.js', 'src/app.ts'];
        const unseen = [
          'dist/chunk-1.js',
          'build/new.o',
          'target/debug/app.o',
          'target/release/bin',
          'out/new.txt',
          'vendor/new.js',
          'x.tmp',
          'a.log',
          'b.log',
          'src/x.gen.ts',
          'docs/site/i.html',
        ];
        const created = ['c.log', 'src/keep.gen.ts', 'docs/site.md'];
        for (const rel of [...seen, ...unseen, ...created]) write(root, rel);
        write(root, 'zz-last.txt');
        await waitFor(() => events.some((e) => e.data.path === 'zz-last.txt'), { what: 'the last write', timeoutMs: 10_000 });
        await new Promise((r) => setTimeout(r, 150));
      } finally {
        await channel.stop();
      }
      const byPath = new Map(events.map((e) => [e.data.path as string, e.type]));
      for (const rel of ['dist/index.js', 'build/keep.txt', 'target/release/notes.md', 'out/tracked.txt', 'vendor/lib.js', 'src/app.ts'])
        expect(byPath.get(rel), rel).toBe('file.changed');
      for (const rel of ['c.log', 'src/keep.gen.ts', 'docs/site.md', 'zz-last.txt']) expect(byPath.get(rel), rel).toBe('file.created');
      expect([...byPath.keys()].sort()).toEqual(
        [
          'dist/index.js',
          'build/keep.txt',
          'target/release/notes.md',
          'out/tracked.txt',
          'vendor/lib.js',
          'src/app.ts',
          'c.log',
          'src/keep.gen.ts',
          'docs/site.md',
          'zz-last.txt',
        ].sort(),
      );
    },
  );
});
