/**
 * The assistant channel with a Claude Code transcript fixture: lines inside
 * the session's time and project become agent events at their own offsets;
 * lines from before the session or from another project do not.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHome, makeRepo, startDaemonProc, stopDaemonProc, tempDir, type DaemonProc, type Home } from '../helpers/env.js';
import { RawClient } from '../helpers/raw-client.js';

describe('assistant channel (Claude Code transcripts)', () => {
  let home: Home;
  let daemon: DaemonProc | undefined;
  const claude = tempDir('claude-');

  beforeAll(async () => {
    home = makeHome({ CLAUDE_CONFIG_DIR: claude });
    daemon = await startDaemonProc(home);
  });
  afterAll(async () => {
    await stopDaemonProc(daemon);
  });

  it('prompts, replies and tool calls overlapping the session land at the right offsets', async () => {
    const repo = await makeRepo();
    const c = await RawClient.connect(home.socket);
    const res = await c.call('start_session', { project: repo, channels: [{ id: 'files', store: true }] });
    const id = res.result.session.id;
    const t0 = res.result.session.started_at;
    const at = (ms: number) => new Date(t0 + ms).toISOString();
    const conv = 'c0ffee00-1111-2222-3333-444455556666';
    const dir = path.join(claude, 'projects', repo.replace(/[^a-zA-Z0-9]/g, '-'));
    fs.mkdirSync(dir, { recursive: true });
    const line = (o: object) => JSON.stringify({ sessionId: conv, cwd: repo, version: '2.0.0', ...o });
    fs.writeFileSync(
      path.join(dir, `${conv}.jsonl`),
      [
        line({ type: 'user', uuid: 'u0', timestamp: at(-60_000), message: { role: 'user', content: 'before the session: not ours' } }),
        line({ type: 'user', uuid: 'u1', timestamp: at(2000), message: { role: 'user', content: 'fix the cache invalidation bug in src/cache.ts' } }),
        line({
          type: 'assistant',
          uuid: 'a1',
          timestamp: at(3500),
          message: {
            role: 'assistant',
            model: 'claude-x',
            content: [
              { type: 'text', text: 'Looking at the cache first.' },
              { type: 'tool_use', id: 't1', name: 'Read', input: { file_path: `${repo}/src/cache.ts` } },
            ],
          },
        }),
        line({
          type: 'user',
          uuid: 'r1',
          timestamp: at(3600),
          message: { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'export const ttl = 5' }] },
        }),
        line({
          type: 'assistant',
          uuid: 'a2',
          timestamp: at(5000),
          message: {
            role: 'assistant',
            content: [
              { type: 'tool_use', id: 't2', name: 'Edit', input: { file_path: `${repo}/src/cache.ts`, old_string: '5', new_string: '60' } },
              { type: 'tool_use', id: 't3', name: 'Bash', input: { command: 'npm test -- cache' } },
            ],
          },
        }),
        '{"type":"assistant","uuid":"torn',
      ].join('\n'),
    );
    const other = path.join(claude, 'projects', '-somewhere-else');
    fs.mkdirSync(other, { recursive: true });
    fs.writeFileSync(
      path.join(other, 'x.jsonl'),
      JSON.stringify({
        type: 'user',
        uuid: 'o1',
        sessionId: 'x',
        cwd: '/somewhere/else',
        timestamp: at(2500),
        message: { role: 'user', content: 'another project' },
      }),
    );
    await new Promise((r) => setTimeout(r, 5500 - (Date.now() - t0)));
    await c.call('stop_session', {});
    const tl = (await c.call('get_timeline', { session: id, types: ['agent'] })).result.events as any[];
    expect(tl.map((e) => [e.type, e.offset_ms])).toEqual([
      ['agent.prompt', 2000],
      ['agent.message', 3500],
      ['agent.tool_call', 3500],
      ['agent.tool_call', 5000],
      ['agent.tool_call', 5000],
    ]);
    expect(tl[0].data).toMatchObject({ agent: 'claude-code', conversation: conv, text: 'fix the cache invalidation bug in src/cache.ts' });
    expect(tl[2].data).toMatchObject({ tool: 'Read', files: [`${repo}/src/cache.ts`] });
    expect(tl.find((e) => e.data.tool === 'Bash').data.command).toBe('npm test -- cache');
    // Replay and search see them like any other channel.
    const found = (await c.call('search', { query: 'invalidation bug', session: id })).result.hits;
    expect(found[0]).toMatchObject({ type: 'agent.prompt', offset_ms: 2000 });
    const r = (await c.call('replay_at', { session: id, at: 5000 })).result;
    expect(r.current.map((e: any) => e.type)).toContain('agent.tool_call');
    c.close();
  });
});
