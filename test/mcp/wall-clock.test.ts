/**
 * Every offset of every reply has its wall-clock time beside it: `offset_ms`
 * → `at`, `<x>_offset_ms` → `<x>_at`, with `new Date(at) - started_at ==
 * offset`. Called as an assistant calls: the real MCP SDK client (which
 * validates structuredContent against each tool's outputSchema) over the
 * server of src/mcp/server.ts, on a session recorded through the recorder with
 * a real ffmpeg screen segment, and one recorded without a screen.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { atKey } from '../../src/api/clock.js';
import { operations } from '../../src/api/index.js';
import type { ChannelContext, ChannelDriver } from '../../src/capture/channel.js';
import { testServices } from '../helpers/services.js';
import { mcpOver } from './harness.js';

const hasFfmpeg = spawnSync('sh', ['-c', 'command -v ffmpeg']).status === 0;
if (!hasFfmpeg && process.env.CI === 'true') throw new Error('CI: ffmpeg is missing (apt-get install ffmpeg)');
if (!hasFfmpeg) console.warn('SKIPPED wall-clock tests of get_frame and get_clip: they need a real screen segment made by ffmpeg');

/** An event channel the test speaks through. */
class Emitter implements ChannelDriver {
  readonly kind = 'event' as const;
  ctx: ChannelContext | undefined;
  constructor(readonly id: string) {}
  async start(ctx: ChannelContext) {
    this.ctx = ctx;
  }
  async stop() {}
}

/** A display channel with one real 2 s screen segment (ffmpeg testsrc) at offset 0. */
class Screen implements ChannelDriver {
  readonly kind = 'media' as const;
  readonly id = 'display:1';
  async start(ctx: ChannelContext) {
    const rel = 'display-1/00001.mkv';
    const file = path.join(ctx.sessionDir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    execFileSync('ffmpeg', [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=320x240:rate=2',
      '-t',
      '2',
      '-c:v',
      'libx264',
      '-pix_fmt',
      'yuv420p',
      '-y',
      file,
    ]);
    const buf = fs.readFileSync(file);
    ctx.registerSegment({
      channel: this.id,
      seq: 1,
      path: rel,
      start_offset_ms: 0,
      duration_ms: 2000,
      bytes: buf.length,
      sha256: crypto.createHash('sha256').update(buf).digest('hex'),
      repaired: false,
    });
  }
  async stop() {}
}

/** Keys of an output schema, at any depth, that are offsets (and so get a wall-clock twin). */
function offsetKeys(schema: unknown, seen = new Set<unknown>()): string[] {
  if (typeof schema !== 'object' || schema === null || seen.has(schema)) return [];
  seen.add(schema);
  const def = (schema as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
  if (!def) return [];
  if (def.type === 'object') {
    const shape = (schema as { shape: Record<string, unknown> }).shape;
    return Object.entries(shape).flatMap(([k, v]) => [...(atKey(k) && k !== 'data' ? [k] : []), ...(k === 'data' ? [] : offsetKeys(v, seen))]);
  }
  return [def.element, def.innerType, ...((def.options as unknown[]) ?? [])].flatMap((x) => offsetKeys(x, seen));
}

interface Checked {
  offsets: number;
}

/**
 * Walks a reply: every object with an offset key has its wall-clock twin, and
 * the twin minus the start of the object's session is the offset. An object's
 * session: its session_id, or itself when it is a session (id + started_at).
 * Recorded payloads (`data`) are what was recorded and are not walked.
 */
function checkReply(reply: unknown, starts: Map<string, number>, where: string): Checked {
  let offsets = 0;
  const visit = (v: unknown, start: number | undefined, p: string): void => {
    if (Array.isArray(v)) {
      for (const [i, x] of v.entries()) visit(x, start, `${p}[${i}]`);
      return;
    }
    if (typeof v !== 'object' || v === null) return;
    const o = v as Record<string, unknown>;
    let s = start;
    if (typeof o.session_id === 'string') s = starts.get(o.session_id);
    else if (typeof o.id === 'string' && typeof o.started_at === 'number') s = o.started_at;
    for (const [k, x] of Object.entries(o)) {
      if (k === 'data') continue;
      const ak = atKey(k);
      if (ak && typeof x === 'number') {
        expect(s, `${where}${p}.${k}: no session to put it on`).toBeTypeOf('number');
        expect(o[ak], `${where}${p}.${ak} beside ${k}`).toBeTypeOf('string');
        expect(Date.parse(o[ak] as string) - (s as number), `${where}${p}.${ak}`).toBe(x);
        expect(o[ak]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$/);
        offsets++;
      }
      visit(x, s, `${p}.${k}`);
    }
  };
  visit(reply, undefined, '');
  return { offsets };
}

describe('wall-clock "at" beside every offset, over MCP', () => {
  let client: Client;
  let withScreen = '';
  let noScreen = '';
  const starts = new Map<string, number>();
  const call = async (name: string, args: Record<string, unknown>) => {
    const r = await client.callTool({ name, arguments: args });
    return r;
  };

  beforeAll(async () => {
    const files = new Emitter('files');
    const t = testServices({ channels: { files, ...(hasFfmpeg ? { 'display:1': new Screen() } : {}) } });
    ({ client } = await mcpOver(t));
    const started = await call('start_session', { label: 'wall clock', channels: [{ id: 'files' }, ...(hasFfmpeg ? [{ id: 'display:1' }] : [])] });
    expect(started.isError, JSON.stringify(started.content)).toBeFalsy();
    withScreen = (started.structuredContent as { session: { id: string } }).session.id;
    const ctx = files.ctx as ChannelContext;
    const at = (ms: number) => ({ ts: ctx.startedAt + ms });
    ctx.emit('file.changed', { path: 'src/widget.ts' }, at(300));
    ctx.emit('window.focus', { title: 'widget.ts - Code', app: 'code' }, at(500));
    ctx.emit('screen.text', { text: 'Error: widget failed to render' }, at(700));
    ctx.emit('transcript.segment', { text: 'why is the widget broken', end_offset_ms: 2400, confidence: 0.9, engine: 'test' }, at(900));
    ctx.emit('git.commit', { hash: 'abc1234', subject: 'Render the widget lazily', files: ['src/widget.ts'] }, at(1100));
    ctx.emit('terminal.output', { stream: 'pty-1', text: 'FAIL widget.test.ts > renders lazily', start_byte: 0, end_byte: 38 }, at(1150));
    const ingested = await call('ingest_event', { type: 'terminal.command', channel: 'terminal', data: { command: 'npm test widget', exit_code: 1 } });
    expect(ingested.isError, JSON.stringify(ingested.content)).toBeFalsy();
    checkReply(ingested.structuredContent, new Map([[withScreen, ctx.startedAt]]), 'ingest_event');
    const stopped = await call('stop_session', {});
    expect(stopped.isError, JSON.stringify(stopped.content)).toBeFalsy();

    const b = await call('start_session', { label: 'no screen', profile: 'events', channels: [{ id: 'files' }] });
    noScreen = (b.structuredContent as { session: { id: string } }).session.id;
    (files.ctx as ChannelContext).emit('file.changed', { path: 'README.md' });
    await call('stop_session', {});

    for (const id of [withScreen, noScreen]) {
      const s = await call('get_session', { session: id });
      starts.set(id, (s.structuredContent as { session: { started_at: number } }).session.started_at);
    }
    expect(starts.get(withScreen)).toBe(ctx.startedAt);
  });

  const cases: Record<string, () => Record<string, unknown>> = {
    get_session: () => ({ session: withScreen }),
    get_timeline: () => ({ session: withScreen }),
    search: () => ({ query: 'widget' }),
    get_transcript: () => ({ session: withScreen }),
    get_terminal_output: () => ({ session: withScreen }),
    replay_at: () => ({ session: withScreen, at: '+1.2s' }),
    annotate: () => ({ session: withScreen, at: '+0:01', text: 'the widget broke here' }),
    replay_cursor: () => ({ session: withScreen, advance: 100 }),
    what_happened: () => ({ session: withScreen }),
    get_frame: () => ({ session: withScreen, at: 1000 }),
    get_clip: () => ({ session: withScreen, from_ms: 0, to_ms: 1500 }),
    ingest_event: () => ({}), // checked while recording, in beforeAll
  };
  const media = new Set(['get_frame', 'get_clip']);

  it('covers every operation whose reply has an offset', () => {
    const withOffsets = operations.filter((op) => offsetKeys(op.output).length > 0).map((op) => op.name);
    expect(withOffsets.sort()).toEqual(Object.keys(cases).sort());
  });

  for (const name of Object.keys(cases).filter((n) => n !== 'ingest_event')) {
    it.skipIf(media.has(name) && !hasFfmpeg)(`${name}: every offset has its wall-clock time, in structuredContent and in the text`, async () => {
      if (name === 'replay_at') await call('annotate', { session: withScreen, at: 1200, text: 'bookmark for replay' });
      const r = await call(name, cases[name]!());
      expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
      const { offsets } = checkReply(r.structuredContent, starts, name);
      expect(offsets, `${name} returned no offset to check`).toBeGreaterThan(0);
      const text = (r.content as { type: string; text?: string }[]).find((c) => c.type === 'text')?.text ?? '';
      expect(JSON.parse(text)).toEqual(r.structuredContent);
      // The operation's own output schema keeps them: CLI and IPC clients that parse with it lose nothing.
      const op = operations.find((o) => o.name === name)!;
      const { png_base64: _png, ...structured } = r.structuredContent as Record<string, unknown>;
      expect(op.output.parse(structured)).toEqual(structured);
    });
  }

  it('replay_at names the moment it stands at on the wall clock, and what was there', async () => {
    const r = await call('replay_at', { session: withScreen, at: '+1.2s' });
    const s = r.structuredContent as Record<string, any>;
    expect(Date.parse(s.at)).toBe(starts.get(withScreen)! + 1200);
    expect(s.window.title).toBe('widget.ts - Code');
    expect(Date.parse(s.window.at)).toBe(starts.get(withScreen)! + s.window.offset_ms);
    expect(s.git_head.subject).toBe('Render the widget lazily');
    expect(typeof s.git_head.at).toBe('string');
  });

  it('get_frame on a session recorded without a screen says TRACED_NO_SCREEN; replay_at there still answers', async () => {
    const r = await call('get_frame', { session: noScreen, at: 0 });
    expect(r.isError).toBe(true);
    expect(r._meta?.code).toBe('TRACED_NO_SCREEN');
    expect((r.content as { text: string }[])[0]?.text).toMatch(/^TRACED_NO_SCREEN: .*no stored screen/);
    // replay_at with include_frame still answers (without a picture).
    const s = await call('replay_at', { session: noScreen, at: 0, include_frame: true });
    expect(s.isError, JSON.stringify(s.content)).toBeFalsy();
    expect((s.content as { type: string }[]).some((c) => c.type === 'image')).toBe(false);
  });

  it.skipIf(!hasFfmpeg)('get_clip of a session without any media is a coded error, not a missing session', async () => {
    const r = await call('get_clip', { session: noScreen, from_ms: 0, to_ms: 1000 });
    expect(r.isError).toBe(true);
    expect(r._meta?.code).not.toBe('TRACED_SESSION_NOT_FOUND');
    expect(r._meta?.code).not.toBe('TRACED_INTERNAL');
    expect(String(r._meta?.code)).toMatch(/^TRACED_(NO_SCREEN|EXPORT_NO_MEDIA)$/);
  });
});

describe('reply budgets count the wall-clock twins', () => {
  it('every page of get_timeline, get_transcript and replay_cursor fits max_bytes with "at" included', async () => {
    const files = new Emitter('files');
    const { client } = await mcpOver(testServices({ channels: { files } }));
    const started = await client.callTool({ name: 'start_session', arguments: { profile: 'events', channels: [{ id: 'files' }] } });
    const sid = (started.structuredContent as { session: { id: string } }).session.id;
    const ctx = files.ctx as ChannelContext;
    for (let i = 0; i < 400; i++) {
      ctx.emit(i % 2 ? 'file.changed' : 'transcript.segment', i % 2 ? { path: `f${i}` } : { text: `w${i}`, end_offset_ms: i * 10 + 5 }, {
        ts: ctx.startedAt + i * 10,
      });
    }
    await client.callTool({ name: 'stop_session', arguments: {} });
    const budget = 2000;
    const pageThrough = async (name: string, first: Record<string, unknown>, next: (r: Record<string, unknown>) => Record<string, unknown> | undefined) => {
      let args: Record<string, unknown> | undefined = first;
      let pages = 0;
      let items = 0;
      while (args && pages < 500) {
        const r = await client.callTool({ name, arguments: { ...args, max_bytes: budget } });
        expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
        const s = r.structuredContent as Record<string, unknown>;
        const list = (s.events ?? s.segments) as unknown[];
        items += list.length;
        if (list.length > 1) expect(Buffer.byteLength(JSON.stringify(s)), `${name} page ${pages}`).toBeLessThanOrEqual(budget);
        expect(JSON.stringify(s)).toContain('"at":"');
        pages++;
        args = next(s);
      }
      return { pages, items };
    };
    const tl = await pageThrough('get_timeline', { session: sid }, (s) =>
      s.next_after_seq === null ? undefined : { session: sid, after_seq: s.next_after_seq },
    );
    expect(tl.items).toBeGreaterThanOrEqual(400);
    expect(tl.pages).toBeGreaterThan(10);
    const tr = await pageThrough('get_transcript', { session: sid }, (s) =>
      s.next_after_seq === null ? undefined : { session: sid, after_seq: s.next_after_seq },
    );
    expect(tr.items).toBe(200);
    const cur = await pageThrough('replay_cursor', { session: sid, advance: 1000 }, (s) => (s.done ? undefined : { cursor: s.cursor, advance: 1000 }));
    expect(cur.items).toBeGreaterThanOrEqual(200);
  });
});
