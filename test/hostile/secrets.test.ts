/**
 * Secrets planted through every entry point of a real daemon (issue 13,
 * DESIGN §11): fresh random values of 23 kinds, through the session label,
 * the project folder's name, bookmarks, pushed event data at depth 10 (plain
 * and under telling keys), file names in the project (and contents, which are
 * never read), git commit subjects (and bodies, which are never read),
 * focused window titles under Xvfb, commands through the real bash hook (and
 * their output, which is never read), crafted recordings loaded with
 * `traced import`, and the label of an audio session uploaded to the VideoDB
 * contract server. Every session is then exported as JSON and JSONL, the
 * daemon stopped, and the raw bytes of everything under TRACED_HOME (the DB,
 * its WAL and SHM, session folders, exports, logs, spool, run), the daemon's
 * own output and every request the contract server received are searched for
 * any 10-character piece of any planted secret, as is, base64'd or
 * URL-encoded. The figure is leaks/planted per entry point, and it is 0.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redact, redactDeep } from '../../src/timeline/redact.js';
import { cli, git, makeHome, makeRepo, ROOT, startDaemonProc, stopDaemonProc, tempDir, waitFor, type DaemonProc, type Home } from '../helpers/env.js';
import { RawClient } from '../helpers/raw-client.js';
import { rigMissing, startRig, type Rig } from '../helpers/rig.js';
import {
  deep,
  deepObject,
  inCommand,
  inFileName,
  inText,
  kindCount,
  LeakScanner,
  LOWER_ALPHABET,
  makeFileNameSecrets,
  makeSecrets,
  rand,
  type Secret,
} from '../helpers/secrets.js';
import { FakeVideoDB } from '../helpers/videodb-server.js';

const skipRig = rigMissing();
const bashMajor = Number(/version (\d+)/.exec(spawnSync('bash', ['--version'], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? 0);
if (bashMajor < 5 && process.env.CI === 'true') throw new Error('CI: bash >= 5 is needed for the terminal hook');

const E = {
  label: 'label (start --label)',
  project: 'project folder name (start --project)',
  bookmark: 'bookmark (annotate)',
  ingest: 'ingest_event data at depth 10',
  ingestKeys: 'ingest_event data under telling keys',
  fileName: 'file name in the project',
  fileContent: 'file content (never read)',
  subject: 'git commit subject',
  body: 'git commit body (never read)',
  window: 'window title (xterm, Xvfb)',
  command: 'terminal command (bash hook)',
  output: 'terminal output (never read)',
  importLabel: 'import: label',
  importBookmark: 'import: bookmarks',
  importData: 'import: event data',
  importProject: 'import: project path',
  importChannel: 'import: event channel',
  audioLabel: 'audio session label (uploaded)',
} as const;
type Entry = (typeof E)[keyof typeof E];

const TELLING_KEYS = [
  'password',
  'api_key',
  'token',
  'client_secret',
  'Authorization',
  'secret',
  'apiKey',
  'x-api-key',
  'private_key',
  'credentials',
  'db_password',
  'accessToken',
];
const singleLine = (s: Secret) => !s.value.includes('\n');
const joined = (xs: readonly Secret[]) => xs.map(inText).join(' | ');
const labelOf = (s: Secret) => `fix: ${inText(s)}`;
const noteOf = (s: Secret) => `note: ${inText(s)}`;
const subjectOf = (xs: readonly Secret[]) => `fix: ${joined(xs)}`;
/** Kinds that are secrets only by context: bare, no rule can know them. */
const CONTEXTUAL = new Set(['aws_secret_key', 'azure_storage_key', 'azure_sas', 'twilio_auth_token', 'password', 'basic_auth', 'bearer']);
/** An event's channel holds at most 64 characters: the carrier when it fits, else the bare value of a kind known alone. */
const channelOf = (s: Secret): string | undefined => (inText(s).length <= 64 ? inText(s) : CONTEXTUAL.has(s.kind) ? undefined : s.value);

/** Import labels: the carriers joined, at most 1000 characters (the recording schema's limit) per recording. */
function labelGroups(xs: Secret[]): Secret[][] {
  const groups: Secret[][] = [];
  let cur: Secret[] = [];
  let len = 0;
  for (const s of xs) {
    const n = inText(s).length + 3;
    if (cur.length && len + n > 1000) {
      groups.push(cur);
      cur = [];
      len = 0;
    }
    cur.push(s);
    len += n;
  }
  if (cur.length) groups.push(cur);
  return groups;
}

// Everything is drawn before anything runs: the in-process check and the daemon see the same values.
const plan = {
  label: makeSecrets().filter((s) => labelOf(s).length <= 200),
  project: makeFileNameSecrets(),
  bookmark: makeSecrets(),
  ingest: makeSecrets(),
  ingestKeys: makeSecrets(),
  fileName: makeFileNameSecrets(),
  fileContent: makeSecrets(),
  subject: makeSecrets().filter(singleLine),
  body: makeSecrets(),
  window: skipRig ? [] : makeSecrets().filter(singleLine),
  command: bashMajor >= 5 ? makeSecrets() : [],
  output: bashMajor >= 5 ? makeSecrets() : [],
  importLabel: makeSecrets(),
  importBookmark: makeSecrets(),
  importData: makeSecrets(),
  importChannel: makeSecrets().filter((s) => (channelOf(s)?.length ?? 99) <= 64),
  importProject: makeFileNameSecrets(),
  audioLabel: skipRig
    ? []
    : makeSecrets()
        .filter((s) => s.kind === 'github_token' || s.kind === 'aws_access_key')
        .slice(0, 2),
};
const importGroups = labelGroups(plan.importLabel);

const scanner = new LeakScanner();
for (const [k, entry] of Object.entries(E)) for (const s of plan[k as keyof typeof plan]) scanner.plant(entry, s);

/** What the gate stores for each planted text, worked out in-process: a leak here is a rule gap, not a path around the gate. */
function storedForms(): [Entry, Secret, string][] {
  const out: [Entry, Secret, string][] = [];
  const add = (entry: Entry, xs: Secret[], f: (s: Secret, i: number) => string) => {
    for (const [i, s] of xs.entries()) out.push([entry, s, f(s, i)]);
  };
  add(E.label, plan.label, (s) => redact(labelOf(s)));
  add(E.project, plan.project, (s) => redact(`/tmp/p/${inFileName(s)}`));
  add(E.bookmark, plan.bookmark, (s) => redact(noteOf(s)));
  add(E.ingest, plan.ingest, (s) => JSON.stringify(redactDeep({ args: deep(inText(s), 10) })));
  add(E.ingestKeys, plan.ingestKeys, (s, i) =>
    JSON.stringify(redactDeep(deepObject({ [TELLING_KEYS[i % TELLING_KEYS.length] as string]: s.value, note: 'planted' }, 10))),
  );
  add(E.fileName, plan.fileName, (s) => JSON.stringify(redactDeep({ path: inFileName(s), kind: 'created', size: 2 })));
  add(E.subject, plan.subject, (s) => redact(subjectOf([s])));
  add(E.window, plan.window, (s) => JSON.stringify(redactDeep({ title: joined([s]), app: 'XTerm' })));
  add(E.command, plan.command, (s) => JSON.stringify(redactDeep({ command: inCommand(s) })));
  add(E.importLabel, plan.importLabel, (s) => redact(inText(s)));
  add(E.importBookmark, plan.importBookmark, (s) => redact(inText(s)));
  add(E.importData, plan.importData, (s) => JSON.stringify(redactDeep({ args: deep(inText(s), 10), more: deepObject({ api_key: s.value }, 10) })));
  add(E.importChannel, plan.importChannel, (s) => redact(channelOf(s) as string));
  add(E.importProject, plan.importProject, (s) => redact(`/home/dev/${inFileName(s)}`));
  add(E.audioLabel, plan.audioLabel, (s) => redact(inText(s)));
  return out;
}

/** Keeps every request the contract server receives: method, URL, headers and body, as bytes. */
function captureRequests(server: FakeVideoDB, into: { where: string; buf: Buffer }[]): void {
  const srv = (server as unknown as { server: http.Server }).server;
  srv.prependListener('request', (req: http.IncomingMessage) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const head = Buffer.from(`${req.method} ${req.url}\n${JSON.stringify(req.headers)}\n\n`);
      into.push({ where: `contract server: ${req.method} ${req.url?.split('?')[0]}`, buf: Buffer.concat([head, ...chunks]) });
    });
  });
}

/** `xs` in runs of `n`: several secrets per commit or window keeps the run short on a loaded machine. */
function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('secrets planted through every entry point', () => {
  let rig: Rig | undefined;
  let server: FakeVideoDB;
  let home: Home;
  let daemon: DaemonProc | undefined;
  let daemonOutput = '';
  const requests: { where: string; buf: Buffer }[] = [];
  /** What reached the daemon, per entry point (events, sessions, bookmarks), to show the plant took. */
  const reached = new Map<Entry, number>();
  const scratch = tempDir('sec-');

  beforeAll(async () => {
    if (!skipRig) rig = await startRig();
    server = await new FakeVideoDB().start();
    captureRequests(server, requests);
    home = makeHome(rig ? { DISPLAY: rig.display, PULSE_SERVER: rig.env.PULSE_SERVER, PULSE_RUNTIME_PATH: rig.env.PULSE_RUNTIME_PATH } : {});
    fs.writeFileSync(
      path.join(home.home, 'config.json'),
      JSON.stringify({
        videodb: { apiKey: server.goodKey, baseUrl: server.url },
        window: { pollMs: 100 },
        capture: { segmentSeconds: 2 },
        queue: { baseDelayMs: 100, maxDelayMs: 1000 },
        // Silence is all the audio session hears: indexing it would only cost time.
        index: { ocr: { enabled: false }, speech: { enabled: false } },
      }),
    );
    daemon = await startDaemonProc(home);
  });
  afterAll(async () => {
    await stopDaemonProc(daemon);
    await server?.stop();
    rig?.stop();
    // Test secrets, but secrets in shape: nothing is left in /tmp unless a leak needs looking into.
    fs.rmSync(scratch, { recursive: true, force: true });
    if (scanner.leaks.length === 0 && home) fs.rmSync(home.home, { recursive: true, force: true });
  });

  it(`plants at least 17 kinds per entry point, fresh each run (${scanner.entries().length} entry points)`, () => {
    for (const e of [E.bookmark, E.ingest, E.ingestKeys, E.fileContent, E.body, E.importLabel, E.importBookmark, E.importData]) {
      expect(kindCount(scanner.plantedIn(e)), e).toBeGreaterThanOrEqual(17);
    }
    for (const e of [E.label, E.fileName, E.subject, E.project]) expect(kindCount(scanner.plantedIn(e)), e).toBeGreaterThanOrEqual(17);
    if (!skipRig) expect(kindCount(scanner.plantedIn(E.window))).toBeGreaterThanOrEqual(17);
    if (bashMajor >= 5) expect(kindCount(scanner.plantedIn(E.command))).toBeGreaterThanOrEqual(17);
  });

  it('every planted text is one the rules catch in-process (so a leak below is a path around the gate)', () => {
    const gaps: string[] = [];
    for (const [entry, s, stored] of storedForms()) {
      const probe = new LeakScanner();
      probe.plant(entry, s);
      probe.scan('in-process', Buffer.from(stored, 'utf8'));
      if (probe.leaks.length) gaps.push(`${entry} / ${s.kind}: ${stored.slice(0, 200)}`);
    }
    expect(gaps, gaps.join('\n')).toEqual([]);
  });

  it('plants everything through the real daemon, exports every session as JSON and JSONL, and stops cleanly', async () => {
    const repo = await makeRepo();
    const c = await RawClient.connect(home.socket);
    const sessions: string[] = [];
    const t0run = Date.now();
    const phase = (what: string) => console.log(`[secrets] ${((Date.now() - t0run) / 1000).toFixed(1)}s ${what}`);
    const count = async (id: string, types: string[]) => (await c.call('get_timeline', { session: id, types, limit: 1000 })).result.events.length as number;

    // ---------------------------------------------------------------- the live session
    const first = plan.label[0] as Secret;
    const started = await cli(home, ['start', '--project', repo, '--label', labelOf(first), '--json']);
    expect(started.code, started.stderr).toBe(0);
    const main = started.json.session.id as string;
    sessions.push(main);

    phase('started');
    // Bookmarks: the first through the CLI, the rest through the same operation over IPC (a CLI
    // process costs seconds on a loaded machine; the gate is in the daemon either way).
    const [firstNote, ...restNotes] = plan.bookmark;
    const cliNote = await cli(home, ['annotate', main, '--at', '300', noteOf(firstNote as Secret), '--json']);
    expect(cliNote.code, cliNote.stderr).toBe(0);
    for (const s of restNotes) expect((await c.call('annotate', { session: main, at: 300, text: noteOf(s) })).error, s.kind).toBeUndefined();
    reached.set(E.bookmark, 1 + restNotes.length);

    phase('bookmarks');
    // Pushed events: deep, and under telling keys.
    for (const s of plan.ingest) {
      const r = await c.call('ingest_event', { type: 'editor.note', data: { args: deep(inText(s), 10) } });
      expect(r.error, s.kind).toBeUndefined();
    }
    for (const [i, s] of plan.ingestKeys.entries()) {
      const r = await c.call('ingest_event', {
        type: 'editor.settings',
        data: { settings: deepObject({ [TELLING_KEYS[i % TELLING_KEYS.length] as string]: s.value, note: 'planted' }, 10) },
      });
      expect(r.error, s.kind).toBeUndefined();
    }
    reached.set(E.ingest, await count(main, ['editor.note']));
    reached.set(E.ingestKeys, await count(main, ['editor.settings']));

    phase('ingest');
    // Files: the names carry secrets; one file's content carries all of them (contents are never read).
    for (const s of plan.fileName) fs.writeFileSync(path.join(repo, inFileName(s) as string), 'x\n');
    fs.writeFileSync(path.join(repo, 'settings.txt'), `${plan.fileContent.map(inText).join('\n')}\n`);
    reached.set(
      E.fileName,
      await waitFor(
        async () => {
          const n = await count(main, ['file.created']);
          return n >= plan.fileName.length + 1 ? n - 1 : undefined;
        },
        { timeoutMs: 20_000, what: 'file.created for every planted name' },
      ),
    );

    phase('files');
    // Commits: three secrets in each subject and in each body (the reflog gives the subject only).
    const subjects = chunks(plan.subject, 3);
    const bodies = chunks(plan.body, 3);
    const commits = Math.max(subjects.length, bodies.length);
    for (let i = 0; i < commits; i++) {
      const subject = subjects[i] ? subjectOf(subjects[i] as Secret[]) : 'chore: planted';
      const body = bodies[i] ? (bodies[i] as Secret[]).map(inText).join('\n\n') : 'nothing';
      await git(repo, 'commit', '-q', '--allow-empty', '-m', subject, '-m', body);
    }
    const commitEvents = await waitFor(
      async () => {
        const n = await count(main, ['git.commit']);
        return n >= commits ? n : undefined;
      },
      { timeoutMs: 20_000, what: 'git.commit for every commit' },
    );
    reached.set(E.subject, commitEvents === commits ? plan.subject.length : 0);

    phase('commits');
    // Window titles: xterms titled with secrets. Each gets the focus after a neutral window had
    // it, so every secret title is a new focus event, whatever had the focus when it appeared.
    if (rig) {
      const r = rig;
      const NEUTRAL = 'traced-neutral-window';
      const spawnXterm = (name: string, title: string) =>
        spawn('xterm', ['-name', name, '-title', title, '-geometry', '60x3+0+0', '-e', 'sleep 600'], { env: r.env, stdio: 'ignore' });
      // Only a mapped window can take the focus: search visible ones, as the rig does.
      const windowId = (name: string) =>
        waitFor(
          () => {
            const f = spawnSync('xdotool', ['search', '--onlyvisible', '--classname', `^${name}$`], { env: r.env, encoding: 'utf8' });
            return f.status === 0 ? f.stdout.trim().split('\n')[0] : undefined;
          },
          { timeoutMs: 15_000, what: `xterm ${name}` },
        );
      const lastFocus = async () => {
        const evs = (await c.call('get_timeline', { session: main, types: ['window.focus'], limit: 1000 })).result.events;
        return { n: evs.length as number, title: evs[evs.length - 1]?.data.title as string | undefined };
      };
      /** Focuses `id` (again on every try: a focus the X server refused is asked for once more) until `done` holds. */
      const focusUntil = (id: string, what: string, done: (f: { n: number; title: string | undefined }) => boolean) =>
        waitFor(
          async () => {
            spawnSync('xdotool', ['windowfocus', '--sync', id], { env: r.env, timeout: 5000 });
            const f = await lastFocus();
            return done(f) ? f : undefined;
          },
          { timeoutMs: 15_000, intervalMs: 200, what },
        );
      const windows: ChildProcess[] = [spawnXterm('secneutral', NEUTRAL), ...chunks(plan.window, 3).map((xs, i) => spawnXterm(`secw${i}`, joined(xs)))];
      try {
        const neutral = await windowId('secneutral');
        for (let i = 0; i < windows.length - 1; i++) {
          const id = await windowId(`secw${i}`);
          const before = await focusUntil(neutral, 'window.focus for the neutral window', (f) => f.title === NEUTRAL);
          await focusUntil(id, `window.focus for secw${i}`, (f) => f.n > before.n && f.title !== NEUTRAL);
        }
        reached.set(E.window, plan.window.length);
      } finally {
        for (const w of windows) w.kill('SIGKILL');
      }
    }

    phase('windows');
    // Commands through a real interactive bash with the hook; the output lines come from the
    // environment, so they are in no command line.
    if (bashMajor >= 5) {
      const hook = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'traced.js'), 'hook', 'bash'], { env: home.env, encoding: 'utf8' });
      expect(hook.status, hook.stderr).toBe(0);
      const hookFile = path.join(scratch, 'hook.sh');
      fs.writeFileSync(hookFile, hook.stdout);
      const sandbox = path.join(scratch, 'shell-home');
      fs.mkdirSync(sandbox);
      const outEnv = Object.fromEntries(plan.output.map((s, i) => [`PLANTED_OUT_${i}`, inText(s)]));
      const lines = ['set +H', ...plan.command.map(inCommand), ...plan.output.map((_, i) => `printf '%s\\n' "$PLANTED_OUT_${i}"`)];
      const before = await count(main, ['terminal.command']);
      const r = spawnSync('bash', ['--norc', '--noprofile', '-i'], {
        cwd: repo,
        // A home of its own: `aws configure set` writes there, and bash's history goes nowhere real.
        env: {
          ...home.env,
          ...outEnv,
          PS1: '$ ',
          HOME: sandbox,
          HISTFILE: path.join(sandbox, '.bash_history'),
          AWS_CONFIG_FILE: path.join(sandbox, 'aws-config'),
          AWS_SHARED_CREDENTIALS_FILE: path.join(sandbox, 'aws-credentials'),
        },
        input: [`source ${hookFile}`, ...lines, 'exit 0', ''].join('\n'),
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(r.status, r.stderr.slice(-2000)).toBe(0);
      reached.set(
        E.command,
        await waitFor(
          async () => {
            const n = (await count(main, ['terminal.command'])) - before;
            return n >= plan.command.length + plan.output.length ? n : undefined;
          },
          { timeoutMs: 20_000, what: 'every command from the spool' },
        ),
      );
    }

    phase('terminal');
    const stopped = await c.call('stop_session', {});
    expect(stopped.error).toBeUndefined();

    // ---------------------------------------------------------------- labels and project folders
    const loops = Math.max(plan.label.length - 1, plan.project.length);
    let labelled = 1;
    let foldered = 0;
    for (let i = 0; i < loops; i++) {
      const label = plan.label[i + 1];
      const folder = plan.project[i];
      let project = repo;
      if (folder) {
        project = path.join(scratch, `p${i}`, inFileName(folder) as string);
        fs.mkdirSync(project, { recursive: true });
      }
      // The operation `traced start --label` calls, over IPC: a CLI process per session costs seconds on a loaded machine.
      const r = await c.call('start_session', { project, ...(label ? { label: labelOf(label) } : {}) });
      expect(r.error).toBeUndefined();
      sessions.push(r.result.session.id);
      if (label) labelled++;
      if (folder) foldered++;
      expect((await c.call('stop_session', {})).error).toBeUndefined();
    }
    reached.set(E.label, labelled);
    reached.set(E.project, foldered);

    phase('labels');
    // ---------------------------------------------------------------- crafted recordings
    const t0 = Date.now() - 3_600_000;
    let imported = { label: 0, bookmarks: 0, data: 0, channel: 0, project: 0 };
    const recordings = Math.max(importGroups.length, plan.importProject.length);
    for (let g = 0; g < recordings; g++) {
      const group = importGroups[g] ?? [];
      const id = `20250101-12${String(g).padStart(2, '0')}00-${rand(LOWER_ALPHABET, 4)}`;
      const withRest = g === 0;
      const events: unknown[] = [];
      if (withRest) {
        for (const s of plan.importData) {
          events.push({ type: 'editor.note', channel: 'editor', data: { args: deep(inText(s), 10) } });
          events.push({ type: 'editor.settings', channel: 'editor', data: { more: deepObject({ api_key: s.value }, 10) } });
        }
        for (const s of plan.importChannel) events.push({ type: 'editor.note', channel: channelOf(s) as string, data: { text: 'from a planted channel' } });
      }
      const lines = events.map((e, i) => ({ seq: i + 1, parent_seq: null, timestamp: t0 + i * 10, offset: i * 10, session_id: id, ...(e as object) }));
      const project = plan.importProject[g] ? `/home/dev/${inFileName(plan.importProject[g] as Secret)}` : '/home/dev/app';
      const meta = {
        format: 'traced-recording/1',
        session: {
          id,
          project,
          label: group.length ? joined(group) : null,
          profile: 'events',
          state: 'ended',
          started_at: t0,
          ended_at: t0 + 60_000,
          end_offset_ms: 60_000,
        },
        channels: [{ id: 'editor', kind: 'event', store: true }],
        annotations: withRest ? plan.importBookmark.map((s, i) => ({ offset_ms: 100 + i, ts: t0 + 100 + i, text: inText(s) })) : [],
        media: [],
        event_count: lines.length,
      };
      const file = path.join(scratch, `recording-${g}.jsonl`);
      fs.writeFileSync(file, [meta, ...lines].map((x) => JSON.stringify(x)).join('\n') + '\n');
      // The first through `traced import`, the rest through the same operation over IPC.
      if (g === 0) {
        const r = await cli(home, ['import', file, '--json']);
        expect(r.code, r.stderr || r.stdout).toBe(0);
        sessions.push(r.json.session_id);
      } else {
        const r = await c.call('import_recording', { file });
        expect(r.error, file).toBeUndefined();
        sessions.push(r.result.session_id);
      }
      imported = {
        label: imported.label + group.length,
        bookmarks: imported.bookmarks + meta.annotations.length,
        data: imported.data + (withRest ? plan.importData.length : 0),
        channel: imported.channel + (withRest ? plan.importChannel.length : 0),
        project: imported.project + (plan.importProject[g] ? 1 : 0),
      };
    }
    reached.set(E.importLabel, imported.label);
    reached.set(E.importBookmark, imported.bookmarks);
    reached.set(E.importData, imported.data);
    reached.set(E.importChannel, imported.channel);
    reached.set(E.importProject, imported.project);

    phase('imports');
    // ---------------------------------------------------------------- an audio session, uploaded
    if (rig && plan.audioLabel.length) {
      const r = await cli(home, ['start', '--project', repo, '--profile', 'audio', '--label', `audio: ${plan.audioLabel.map(inText).join('; ')}`, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const id = r.json.session.id as string;
      sessions.push(id);
      await sleep(4500);
      const s = await cli(home, ['stop', id], { timeoutMs: 60_000 });
      expect(s.code, s.stderr).toBe(0);
      await waitFor(() => server.media.some((m) => m.name.startsWith(`${id}/`)), { timeoutMs: 30_000, what: 'an uploaded segment of the audio session' });
      reached.set(E.audioLabel, plan.audioLabel.length);
    }

    phase('audio');
    // ---------------------------------------------------------------- exports
    // The live session through `traced export`, the others through the same operation over IPC.
    for (const t of ['json', 'jsonl']) {
      const r = await cli(home, ['export', main, '--target', t, '--json']);
      expect(r.code, r.stderr).toBe(0);
    }
    for (const id of sessions.slice(1)) {
      for (const target of ['json', 'jsonl']) expect((await c.call('export_session', { session: id, target })).error, id).toBeUndefined();
    }
    expect(fs.readdirSync(path.join(home.home, 'exports')).length).toBeGreaterThanOrEqual(sessions.length * 2);
    phase('exports');
    // Uploads and the VideoDB export of the audio session settle before the daemon goes.
    const queue = await waitFor(
      async () => {
        const q = (await c.call('queue_status', {})).result;
        return q.counts.pending + q.counts.in_flight === 0 ? q : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: 'the upload queue to drain' },
    );
    c.close();
    phase(`queue drained: ${JSON.stringify(queue.counts)}`);

    // The WAL as the live daemon has it: a clean stop checkpoints it into the DB and removes it.
    fs.mkdirSync(path.join(scratch, 'live-db'));
    for (const f of ['traced.db', 'traced.db-wal', 'traced.db-shm']) {
      if (fs.existsSync(path.join(home.home, f))) fs.copyFileSync(path.join(home.home, f), path.join(scratch, 'live-db', f));
    }
    await stopDaemonProc(daemon);
    expect(daemon?.child.exitCode, daemon?.stderr().slice(-2000)).toBe(0);
    daemonOutput = daemon?.stderr() ?? '';
    daemon = undefined;
  }, 300_000);

  it('a raw-byte scan of the DB, WAL, SHM, session folders, exports, logs, spool, run, daemon output and upload bodies finds 0 leaks per entry point', () => {
    const present = ['traced.db', 'traced.db-wal', 'traced.db-shm'].map((f) => {
      const st = fs.statSync(path.join(home.home, f), { throwIfNoEntry: false });
      return `${f} ${st ? `${st.size} B` : 'absent'}`;
    });
    scanner.scanTree(home.home, 'TRACED_HOME');
    scanner.scanTree(path.join(scratch, 'live-db'), 'copied before stop');
    scanner.scan('daemon stdout/stderr', Buffer.from(daemonOutput, 'utf8'));
    for (const r of requests) scanner.scan(r.where, r.buf);

    const rows = scanner
      .entries()
      .map((e) => ({ entry: e, planted: scanner.plantedIn(e).length, reached: reached.get(e as Entry), leaked: scanner.leakedIn(e).length }));
    const w = Math.max(...rows.map((r) => r.entry.length));
    const table = [
      `${'entry point'.padEnd(w)}  planted  reached  leaked`,
      ...rows.map((r) => `${r.entry.padEnd(w)}  ${String(r.planted).padStart(7)}  ${String(r.reached ?? '-').padStart(7)}  ${String(r.leaked).padStart(6)}`),
      `${'total'.padEnd(w)}  ${String(rows.reduce((a, r) => a + r.planted, 0)).padStart(7)}  ${''.padStart(7)}  ${String(rows.reduce((a, r) => a + r.leaked, 0)).padStart(6)}`,
    ].join('\n');
    // Where each entry point's secrets survived, session ids folded: entry -> place: how many secrets.
    const places = new Map<string, string[]>();
    for (const l of scanner.leaks) {
      const k = `${l.entry} -> ${l.where.replace(/\d{8}-\d{6}-[a-z0-9]{4}/g, 'ID')} (${l.form})`;
      places.set(k, [...(places.get(k) ?? []), `${l.kind} @${l.offset}: ${l.context}`]);
    }
    const where = [...places].map(([k, v]) => `${k}: ${v.length}`);
    // One example per entry point and place, with the bytes around it.
    const detail = [...places].map(([k, v]) => `${k}\n    ${v[0]}`);
    console.log(
      `secrets scan of ${home.home}: ${scanner.scannedFiles} files and bodies, ${(scanner.scannedBytes / 1024).toFixed(0)} KiB (${present.join(', ')}; ${requests.length} requests to the contract server, ${requests.filter((r) => r.where.startsWith('contract server: POST /blob/')).length} file uploads${skipRig ? '; NO RIG: window titles and the audio upload not planted' : ''})\n${table}${where.length ? `\nleaks:\n  ${where.join('\n  ')}\n${detail.join('\n')}` : ''}`,
    );
    expect(scanner.scannedFiles).toBeGreaterThan(10);
    if (!skipRig) expect(requests.some((r) => r.where.includes('/upload'))).toBe(true);
    // A plant that never reached the daemon would make its 0 meaningless.
    for (const r of rows) if (r.reached !== undefined) expect(r.reached, `${r.entry}: what reached the daemon`).toBeGreaterThanOrEqual(r.planted);
    expect(
      rows.filter((r) => r.leaked > 0).map((r) => `${r.entry}: ${r.leaked}/${r.planted}`),
      where.join('\n'),
    ).toEqual([]);
  });
});
