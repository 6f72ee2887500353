import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operations } from '../../src/api/index.js';
import { BIN, git, killHomeDaemon, makeHome, makeRepo, waitFor, type Home } from '../helpers/env.js';

describe('traced mcp with the SDK client over stdio', () => {
  let home: Home;
  let repo: string;
  let client: Client;
  let stderr = '';

  beforeAll(async () => {
    home = makeHome();
    repo = await makeRepo();
    const transport = new StdioClientTransport({ command: process.execPath, args: [BIN, 'mcp'], env: home.env as Record<string, string>, cwd: repo, stderr: 'pipe' });
    transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    client = new Client({ name: 'traced-test', version: '1.0.0' });
    await client.connect(transport); // any non-protocol byte on stdout would break this handshake
  });
  afterAll(async () => {
    await client?.close();
    killHomeDaemon(home);
  });

  it('lists every operation as a tool with schemas', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(operations.map((o) => o.name).sort());
    for (const t of tools) {
      expect(t.description?.length ?? 0).toBeGreaterThan(30);
      expect(t.inputSchema.type).toBe('object');
      expect(t.outputSchema?.type).toBe('object');
    }
    const search = tools.find((t) => t.name === 'search');
    expect((search?.inputSchema.required as string[] | undefined) ?? []).toContain('query');
  });

  it('starts a session (starting the daemon), records, searches and stops', async () => {
    const started = await client.callTool({ name: 'start_session', arguments: { label: 'via mcp' } });
    expect(started.isError, JSON.stringify(started.content)).toBeFalsy();
    const session = (started.structuredContent as any).session;
    // No project given: the MCP server's own working directory is the project.
    expect(fs.realpathSync(session.project)).toBe(fs.realpathSync(repo));
    fs.writeFileSync(path.join(repo, 'widget.tsx'), 'export {}\n');
    await git(repo, 'add', 'widget.tsx');
    await git(repo, 'commit', '-qm', 'Render the widget lazily');
    const found = await waitFor(async () => {
      const r = await client.callTool({ name: 'search', arguments: { query: 'widget lazily' } });
      const hits = (r.structuredContent as any)?.hits ?? [];
      return hits.find((h: any) => h.type === 'git.commit');
    }, { what: 'commit search hit' });
    expect(found.session_id).toBe(session.id);
    const stopped = await client.callTool({ name: 'stop_session', arguments: {} });
    expect((stopped.structuredContent as any).state).toBe('ended');
    const text = (stopped.content as any[])[0].text;
    expect(JSON.parse(text).id).toBe(session.id);
  });

  it('returns invalid arguments as isError with the stable code, and keeps serving', async () => {
    const bad = await client.callTool({ name: 'search', arguments: { query: 7, limit: 'many' } });
    expect(bad.isError).toBe(true);
    expect((bad.content as any[])[0].text).toMatch(/^TRACED_INVALID_PARAMS: /);
    const noSession = await client.callTool({ name: 'get_session', arguments: { session: 'nope' } });
    expect(noSession.isError).toBe(true);
    expect((noSession.content as any[])[0].text).toMatch(/^TRACED_SESSION_NOT_FOUND/);
    const st = await client.callTool({ name: 'status', arguments: {} });
    expect(st.isError).toBeFalsy();
    expect((st.structuredContent as any).daemon.pid).toBeGreaterThan(0);
    expect(stderr).not.toMatch(/Error/);
  });
});
