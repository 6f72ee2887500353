import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
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
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'mcp'],
      env: home.env as Record<string, string>,
      cwd: repo,
      stderr: 'pipe',
    });
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
      // An output schema is published once; a tool replying like another one names it instead.
      const like = /Replies like (\w+)\.$/.exec(t.description ?? '')?.[1];
      expect(like ? tools.find((x) => x.name === like)?.outputSchema?.type : t.outputSchema?.type, t.name).toBe('object');
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
    const found = await waitFor(
      async () => {
        const r = await client.callTool({ name: 'search', arguments: { query: 'widget lazily' } });
        const hits = (r.structuredContent as any)?.hits ?? [];
        return hits.find((h: any) => h.type === 'git.commit');
      },
      { what: 'commit search hit' },
    );
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

  it('calls every tool on a recorded session with screen and audio; get_frame and replay_at return the screen as image content', async () => {
    // A recording with real media, loaded through the import tool: a 6 s screen segment showing text, and a mic segment.
    const src = fs.mkdtempSync(path.join(home.home, 'src-'));
    const sid = '20261121-100000-mcpt';
    fs.mkdirSync(path.join(src, 'display-1'));
    fs.mkdirSync(path.join(src, 'mic-default'));
    execFileSync('ffmpeg', [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      'color=c=white:s=640x360:r=2',
      '-t',
      '6',
      '-vf',
      "drawtext=text='MCP FRAME':fontsize=40:x=20:y=20:font=Monospace",
      '-c:v',
      'libx264',
      '-pix_fmt',
      'yuv420p',
      path.join(src, 'display-1', '00000.mkv'),
    ]);
    execFileSync('ffmpeg', [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=440:sample_rate=16000',
      '-t',
      '6',
      '-c:a',
      'libopus',
      path.join(src, 'mic-default', '00000.ogg'),
    ]);
    const started = Date.UTC(2026, 10, 21, 10);
    const meta = {
      format: 'traced-recording/1',
      session: {
        id: sid,
        project: repo,
        label: 'mcp fixture',
        profile: 'full',
        state: 'ended',
        started_at: started,
        ended_at: started + 6000,
        end_offset_ms: 6000,
      },
      channels: [
        { id: 'display:1', kind: 'media', store: true },
        { id: 'mic:default', kind: 'media', store: true },
      ],
      annotations: [{ offset_ms: 1000, ts: started + 1000, text: 'fixture bookmark' }],
      media: [
        { channel: 'display:1', seq: 0, path: 'display-1/00000.mkv', start_offset_ms: 0, duration_ms: 6000, bytes: 1, sha256: null },
        { channel: 'mic:default', seq: 0, path: 'mic-default/00000.ogg', start_offset_ms: 0, duration_ms: 6000, bytes: 1, sha256: null },
      ],
      event_count: 2,
    };
    const lines = [
      JSON.stringify(meta),
      JSON.stringify({
        seq: 1,
        parent_seq: null,
        type: 'file.changed',
        timestamp: started + 2000,
        offset: 2000,
        session_id: sid,
        channel: 'files',
        data: { path: 'fixture.ts' },
      }),
      JSON.stringify({
        seq: 2,
        parent_seq: null,
        type: 'terminal.command',
        timestamp: started + 3000,
        offset: 3000,
        session_id: sid,
        channel: 'terminal',
        data: { command: 'npm test', exit_code: 1 },
      }),
    ];
    const file = path.join(src, 'rec.jsonl');
    fs.writeFileSync(file, `${lines.join('\n')}\n`);

    const args: Record<string, Record<string, unknown>> = {
      import_recording: { file, media_dir: src },
      start_session: { label: 'second' },
      pause_session: {},
      resume_session: {},
      stop_session: {},
      status: {},
      list_sessions: {},
      list_devices: {},
      get_session: { session: sid },
      get_timeline: { session: sid },
      search: { query: 'fixture' },
      ingest_event: { type: 'editor.file_opened', data: { path: 'x.ts' } },
      queue_status: {},
      queue_retry: {},
      queue_pause: {},
      queue_resume: {},
      export_session: { session: sid, target: 'jsonl' },
      get_clip: { session: sid, from_ms: 1000, to_ms: 3000 },
      get_transcript: { session: sid },
      get_terminal_output: { session: sid },
      what_happened: { session: sid },
      replay_at: { session: sid, at: 2500 },
      get_frame: { session: sid, at: 2500 },
      annotate: { session: sid, at: 4000, text: 'via mcp' },
      replay_cursor: { session: sid, advance: 10 },
      prune: { dry_run: true },
    };
    // Order: import first, the live-session tools in lifecycle order, the rest after.
    const order = ['import_recording', 'start_session', 'ingest_event', 'pause_session', 'resume_session', 'stop_session'];
    const names = [...order, ...operations.map((o) => o.name).filter((n) => !order.includes(n))];
    expect(new Set(names)).toEqual(new Set(operations.map((o) => o.name)));
    for (const name of names) {
      expect(args[name], `arguments for ${name}`).toBeDefined();
      const r = await client.callTool({ name, arguments: args[name] });
      expect(r.isError, `${name}: ${JSON.stringify(r.content).slice(0, 300)}`).toBeFalsy();
      expect(r.structuredContent, name).toBeDefined();
    }
    const frame = await client.callTool({ name: 'get_frame', arguments: { session: sid, at: 2500 } });
    const img = (frame.content as any[]).find((c) => c.type === 'image');
    expect(img.mimeType).toBe('image/png');
    expect(Buffer.from(img.data, 'base64').subarray(1, 4).toString()).toBe('PNG');
    expect((frame.content as any[]).find((c) => c.type === 'text').text).not.toContain('png_base64');
    // The PNG goes once: not again in the structured content.
    expect(JSON.stringify(frame.structuredContent)).not.toContain(img.data.slice(0, 64));
    expect((frame.structuredContent as any).png_base64).toBeUndefined();
    // replay_at decodes a frame only when asked.
    const plain = await client.callTool({ name: 'replay_at', arguments: { session: sid, at: 2500 } });
    expect((plain.content as any[]).some((c) => c.type === 'image')).toBe(false);
    const replay = await client.callTool({ name: 'replay_at', arguments: { session: sid, at: 2500, include_frame: true } });
    expect((replay.content as any[]).some((c) => c.type === 'image' && c.mimeType === 'image/png')).toBe(true);
    expect((replay.structuredContent as any).last_saved.path).toBe('fixture.ts');
    // Invalid arguments to the new tools: isError with the code, and the server goes on.
    const bad = await client.callTool({ name: 'get_frame', arguments: { session: sid, at: -5 } });
    expect(bad.isError).toBe(true);
    // A moment out of range is a time error, with the accepted forms.
    expect((bad.content as any[])[0].text).toMatch(/^TRACED_INVALID_TIME/);
    expect((await client.callTool({ name: 'status', arguments: {} })).isError).toBeFalsy();
  }, 90_000);

  it('offers sessions and timelines as resources, and prompts for the common asks', async () => {
    const { resources } = await client.listResources();
    expect(resources[0]?.uri).toBe('traced://sessions');
    expect(resources.some((r) => /^traced:\/\/sessions\/.+\/timeline$/.test(r.uri))).toBe(true);
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate)).toContain('traced://sessions/{session}/timeline');
    const tl = await client.readResource({ uri: 'traced://sessions/last/timeline' });
    expect(JSON.parse((tl.contents[0] as any).text).events.length).toBeGreaterThan(0);
    const digest = await client.readResource({ uri: 'traced://sessions/20261121-100000-mcpt/digest' });
    expect(JSON.parse((digest.contents[0] as any).text).sessions[0].annotations.map((a: any) => a.text)).toContain('fixture bookmark');
    await expect(client.readResource({ uri: 'traced://nothing' })).rejects.toThrow(/unknown resource/);
    const { prompts } = await client.listPrompts();
    expect(prompts.map((p) => p.name)).toEqual(['summarize-last-session', 'when-did-it-break']);
    const p = await client.getPrompt({ name: 'when-did-it-break', arguments: { query: 'TS2345' } });
    expect((p.messages[0]?.content as { text?: string } | undefined)?.text).toMatch(/search for it.*replay_at/s);
    await expect(client.getPrompt({ name: 'when-did-it-break', arguments: {} })).rejects.toThrow(/needs "query"/);
  });
});

describe('traced mcp --http (Streamable HTTP on 127.0.0.1, bearer token)', () => {
  it('serves the same tools to a client with the token and refuses one without', async () => {
    const home = makeHome({ TRACED_MCP_TOKEN: 'test-token-123' });
    const child = spawn(process.execPath, [BIN, 'mcp', '--http', '--port', '0'], { env: home.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    try {
      const url = await waitFor(() => /listening on (http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(err)?.[1], { what: 'the http server' });
      const denied = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(denied.status).toBe(401);
      const wrong = await fetch(url, { method: 'POST', headers: { authorization: 'Bearer nope', 'content-type': 'application/json' }, body: '{}' });
      expect(wrong.status).toBe(401);
      const client = new Client({ name: 'http-test', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: 'Bearer test-token-123' } } }));
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(operations.map((o) => o.name).sort());
      const st = await client.callTool({ name: 'status', arguments: {} });
      expect((st.structuredContent as any).daemon.pid).toBeGreaterThan(0);
      await client.close();
    } finally {
      child.kill('SIGTERM');
      killHomeDaemon(home);
    }
  }, 30_000);
});
