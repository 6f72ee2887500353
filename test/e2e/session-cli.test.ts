import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, git, killHomeDaemon, makeHome, makeRepo, waitFor, type Home } from '../helpers/env.js';

describe('an event session through the CLI', () => {
  let home: Home;
  let repo: string;

  beforeAll(async () => {
    home = makeHome();
    repo = await makeRepo();
  });
  afterAll(() => killHomeDaemon(home));

  it('records saves and a commit, and search finds them', async () => {
    // No daemon yet: the CLI starts a detached one.
    const start = await cli(home, ['start', '--label', 'cache fix', '--json'], { cwd: repo });
    expect(start.code, start.stderr).toBe(0);
    const id: string = start.json.session.id;
    expect(start.json.session.state).toBe('recording');
    expect(start.json.session.project).toBe(fs.realpathSync(repo) === repo ? repo : start.json.session.project);
    const states = Object.fromEntries(start.json.session.channels.map((c: any) => [c.id, c.state]));
    expect(states.files).toBe('running');
    expect(states.git).toBe('running');
    expect(states.window).toBe('unavailable'); // no DISPLAY in this test
    expect(start.json.warnings.join(' ')).toMatch(/window/);

    fs.writeFileSync(path.join(repo, 'invalidateCache.ts'), 'export const x = 1;\n');
    fs.appendFileSync(path.join(repo, 'README.md'), 'more\n');
    fs.mkdirSync(path.join(repo, 'ignored'));
    fs.writeFileSync(path.join(repo, 'ignored', 'skip.ts'), 'no');
    fs.writeFileSync(path.join(repo, 'debug.log'), 'no');
    fs.writeFileSync(path.join(repo, '.env'), 'API_TOKEN=hunter2hunter2\n');
    fs.mkdirSync(path.join(repo, 'node_modules', 'x'), { recursive: true });
    fs.writeFileSync(path.join(repo, 'node_modules', 'x', 'index.js'), 'no');
    await waitFor(
      async () => {
        const r = await cli(home, ['show', id, '--json']);
        return r.json?.counts?.['file.created'] >= 1 && r.json?.counts?.['file.changed'] >= 1;
      },
      { what: 'file events' },
    );
    await git(repo, 'add', 'invalidateCache.ts', 'README.md');
    await git(repo, 'commit', '-qm', 'Invalidate the session cache on logout');

    const shown = await waitFor(
      async () => {
        const r = await cli(home, ['show', id, '--json']);
        return r.json?.counts?.['git.commit'] === 1 ? r.json : undefined;
      },
      { what: 'commit event' },
    );
    const events: any[] = shown.events;
    const paths = events.filter((e) => e.type.startsWith('file.')).map((e) => e.data.path);
    expect(paths).toContain('invalidateCache.ts');
    expect(paths).toContain('README.md');
    // Ignored, git-ignored, dependency and secrets files never show up.
    expect(paths.some((p: string) => p.includes('ignored') || p.endsWith('.log') || p.includes('node_modules') || p.includes('.env'))).toBe(false);
    const commit = events.find((e) => e.type === 'git.commit');
    expect(commit.data.subject).toBe('Invalidate the session cache on logout');
    expect(commit.data.files.map((f: any) => f.path).sort()).toEqual(['README.md', 'invalidateCache.ts']);
    expect(commit.data.branch).toBe('main');
    // One clock: seq strictly increasing, offsets non-negative and consistent with ts.
    const seqs = events.map((e) => e.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    // An event is dated when it happened, so one recorded later may carry an earlier offset (a git.state
    // is dated when it was asked for and read after; a file save when it was seen, emitted after its
    // debounce): CI saw seq n at 83 ms and seq n+1 at 82 ms. Seq is the order of recording, timelines
    // order by offset; what must hold is that offset and ts agree (below).
    for (const e of events) {
      expect(e.offset_ms).toBeGreaterThanOrEqual(0);
      expect(Math.abs(e.ts - shown.session.started_at - e.offset_ms)).toBeLessThan(2000);
    }

    const bySubject = await cli(home, ['search', 'session', 'cache', '--json']);
    expect(bySubject.code).toBe(0);
    expect(bySubject.json.hits.some((h: any) => h.type === 'git.commit' && h.session_id === id)).toBe(true);
    const byFile = await cli(home, ['search', 'invalidateCache.ts', '--json']);
    expect(byFile.json.hits.some((h: any) => h.type.startsWith('file.'))).toBe(true);
    const human = await cli(home, ['search', 'logout']);
    expect(human.stdout).toMatch(/git\.commit/);
    // The index marks the match; the CLI shows it bold on a terminal and plain in a pipe, never as **logout**.
    expect(human.stdout).toMatch(/logout/);
    expect(human.stdout).not.toContain('**logout**');

    const stop = await cli(home, ['stop', '--json']);
    expect(stop.code).toBe(0);
    expect(stop.json.state).toBe('ended');
    const list = await cli(home, ['sessions', '--json']);
    expect(list.json.sessions[0].id).toBe(id);
    expect(list.json.sessions[0].event_count).toBeGreaterThanOrEqual(5);

    // The session folder holds session.json and the same events as the DB.
    const dir = path.join(home.home, 'sessions', id);
    const doc = JSON.parse(fs.readFileSync(path.join(dir, 'session.json'), 'utf8'));
    expect(doc.state).toBe('ended');
    const jsonl = fs
      .readFileSync(path.join(dir, 'events.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(jsonl.length).toBe(list.json.sessions[0].event_count);
  });

  it('gives one-line reasons and distinct exit codes', async () => {
    const noSession = await cli(home, ['stop']);
    expect(noSession.code).toBe(5);
    expect(noSession.stderr).toMatch(/^traced: TRACED_SESSION_NOT_ACTIVE: /);
    const missing = await cli(home, ['show', 'nope-nope', '--json']);
    expect(missing.code).toBe(4);
    expect(missing.json.error.code).toBe('TRACED_SESSION_NOT_FOUND');
    const usage = await cli(home, ['start', '--bogus']);
    expect(usage.code).toBe(2);
    const noProject = await cli(home, ['start', '--project', '/definitely/not/here', '--json']);
    expect(noProject.json.error.code).toBe('TRACED_PROJECT_NOT_FOUND');
  });

  it('refuses a second session while one records', async () => {
    const a = await cli(home, ['start', '--json'], { cwd: repo });
    expect(a.code).toBe(0);
    const b = await cli(home, ['start', '--json'], { cwd: repo });
    expect(b.code).toBe(5);
    expect(b.json.error.code).toBe('TRACED_SESSION_ACTIVE');
    const paused = await cli(home, ['pause', '--json']);
    expect(paused.json.state).toBe('paused');
    fs.writeFileSync(path.join(repo, 'while-paused.txt'), 'x');
    await new Promise((r) => setTimeout(r, 600));
    const resumed = await cli(home, ['resume', '--json']);
    expect(resumed.json.state).toBe('recording');
    fs.writeFileSync(path.join(repo, 'after-resume.txt'), 'x');
    const shown = await waitFor(async () => {
      const r = await cli(home, ['show', a.json.session.id, '--json']);
      return r.json.events.some((e: any) => e.data.path === 'after-resume.txt') ? r.json : undefined;
    });
    const types = shown.events.map((e: any) => e.type);
    expect(types).toContain('session.paused');
    expect(types).toContain('session.resumed');
    expect(shown.events.some((e: any) => e.data.path === 'while-paused.txt')).toBe(false);
    expect((await cli(home, ['stop'])).code).toBe(0);
  });
});
