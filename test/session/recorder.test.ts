import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ChannelContext, ChannelDriver } from '../../src/capture/channel.js';
import { ErrorCodes, TracedError } from '../../src/errors.js';
import { testServices } from '../helpers/services.js';

/** A channel driver whose start/stop behaviour the test chooses. */
class TestChannel implements ChannelDriver {
  readonly kind = 'event' as const;
  started = false;
  stopped = false;
  ctx: ChannelContext | undefined;
  constructor(
    readonly id: string,
    private readonly behaviour: { failStart?: boolean; failStop?: boolean; unavailable?: boolean } = {},
  ) {}
  async start(ctx: ChannelContext): Promise<void> {
    this.ctx = ctx;
    if (this.behaviour.failStart) throw new TracedError(ErrorCodes.CAPTURE_DEVICE_UNAVAILABLE, `${this.id} has no device`);
    if (this.behaviour.unavailable) ctx.setHealth('unavailable', 'not on this machine');
    this.started = true;
  }
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.behaviour.failStop) throw new Error(`${this.id} refused to stop`);
  }
}

function makeEngine(drivers: Record<string, TestChannel>) {
  const t = testServices({ channels: drivers });
  const { recorder, sessions, search } = t.services;
  return { recorder, sessions, search, store: t.store, home: t.home, paths: t.paths, notes: t.notes, rebuild: t.rebuild };
}

describe('Recorder', () => {
  it('stops what it started and ends the session when a start fails half-way', async () => {
    const files = new TestChannel('files');
    const git = new TestChannel('git', { failStart: true });
    const window = new TestChannel('window');
    const { recorder: engine, sessions, store, home } = makeEngine({ files, git, window });
    const err = await engine.start({ project: home, profile: 'events' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TracedError);
    expect((err as TracedError).code).toBe(ErrorCodes.SESSION_START_FAILED);
    expect((err as TracedError).data?.channel).toBe('git');
    expect(files.stopped).toBe(true);
    expect(git.stopped).toBe(true);
    expect(window.stopped).toBe(true);
    const [row] = store.listSessions({ limit: 5 });
    expect(row?.state).toBe('failed');
    expect(JSON.parse(row?.error ?? '{}').code).toBe(ErrorCodes.CAPTURE_DEVICE_UNAVAILABLE);
    expect(sessions.status().session).toBeNull();
    // The failure left nothing half-open: a new session starts.
    git['behaviour'].failStart = false;
    const ok = await engine.start({ project: home, profile: 'events' });
    expect(ok.session.state).toBe('recording');
    await engine.stop();
  });

  it('still stops every other channel when one stop throws', async () => {
    const files = new TestChannel('files', { failStop: true });
    const git = new TestChannel('git');
    const window = new TestChannel('window', { unavailable: true });
    const { recorder: engine } = makeEngine({ files, git, window });
    const started = await engine.start({ profile: 'events' });
    expect(started.warnings).toEqual(['window: not on this machine']);
    const summary = await engine.stop();
    expect(git.stopped).toBe(true);
    expect(window.stopped).toBe(true);
    expect(summary.state).toBe('ended');
    const states = Object.fromEntries(summary.channels.map((c) => [c.id, c.state]));
    expect(states).toEqual({ files: 'failed', git: 'stopped', window: 'unavailable' });
  });

  it('puts every event on one clock with increasing seq, and refuses a second start', async () => {
    const files = new TestChannel('files');
    const { recorder: engine, sessions, search, notes } = makeEngine({ files, git: new TestChannel('git'), window: new TestChannel('window') });
    const { session } = await engine.start({ profile: 'events' });
    await expect(engine.start({ profile: 'events' })).rejects.toMatchObject({ code: ErrorCodes.SESSION_ACTIVE });
    const a = await engine.ingest({ type: 'editor.file_opened', data: { path: 'a.ts' }, channel: 'editor' });
    files.ctx?.emit('file.changed', { path: 'b.ts' }, { ts: Date.now() - 50 });
    const b = await engine.ingest({ type: 'editor.test_run', data: { passed: 3, token: 'ghp_abcdefghijklmnopqrstuvwxyz0123456789' }, channel: 'editor' });
    expect(b.seq).toBe((a.seq ?? 0) + 2);
    const tl = await sessions.timeline(session.id, { limit: 100, max_bytes: 40_000 });
    const seqs = tl.events.map((e) => e.seq).sort((x, y) => x - y);
    expect(seqs).toEqual([1, 2, 3, 4]);
    const byType = Object.fromEntries(tl.events.map((e) => [e.type, e]));
    expect(byType['file.changed']?.offset_ms).toBeLessThanOrEqual(byType['editor.test_run']?.offset_ms ?? 0);
    // Secrets never reach the stored data or the index.
    expect(JSON.stringify(byType['editor.test_run']?.data)).toContain('[REDACTED:github_token]');
    expect((await search.run({ query: 'ghp_abcdefghijklmnopqrstuvwxyz0123456789', limit: 5 })).hits).toEqual([]);
    await engine.pause();
    const dropped = await engine.ingest({ type: 'editor.x', data: {}, channel: 'editor' });
    expect(dropped.dropped).toBe('paused');
    await engine.resume();
    await engine.stop();
    expect(notes).toEqual(expect.arrayContaining(['session.started', 'session.paused', 'session.resumed', 'session.stopped', 'event.recorded']));
  });

  it('recovers a session left open, ending it at its last event', async () => {
    const {
      recorder: engine,
      store,
      paths,
      rebuild,
    } = makeEngine({ files: new TestChannel('files'), git: new TestChannel('git'), window: new TestChannel('window') });
    const { session } = await engine.start({ profile: 'events' });
    const last = await engine.ingest({ type: 'editor.save', data: { path: 'z.ts' }, channel: 'editor' });
    // Simulate a killed daemon: the row is still 'recording'; a fresh engine recovers it.
    const engine2 = rebuild().recovery;
    expect(await engine2.recoverOpenSessions()).toEqual([session.id]);
    const row = store.getSession(session.id);
    expect(row?.state).toBe('recovered');
    const lastEvent = store.events({ sessionId: session.id, limit: 100 }).find((e) => e.seq === last.seq);
    expect(row?.ended_at).toBe(lastEvent?.ts);
    const jsonl = fs
      .readFileSync(path.join(paths.sessionsDir, session.id, 'events.jsonl'), 'utf8')
      .trim()
      .split('\n');
    expect(jsonl.map((l) => JSON.parse(l).seq)).toEqual([1, 2, 3]);
    expect(await engine2.recoverOpenSessions()).toEqual([]);
  });
});
