/**
 * `traced mcp`: a stdio MCP server built by looping over the operation list.
 * Every operation is a tool (JSON Schema from its zod input and output); every
 * call is forwarded to the daemon over IPC, which validates it, so an invalid
 * argument comes back as an `isError` result carrying TRACED_INVALID_PARAMS
 * like every other failure. Nothing but protocol is written to stdout.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import crypto from 'node:crypto';
import http from 'node:http';
import type { Logger } from 'pino';
import {
  CallToolRequestSchema,
  ErrorCode as McpErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  type CallToolResult,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { Readable, Writable } from 'node:stream';
import { z } from 'zod';
import { operations, findOperation } from '../api/index.js';
import { connectDaemon } from '../ipc/connect.js';
import type { Env } from '../config/config.js';
import { createFileLogger } from '../config/logger.js';
import { setup } from '../config/setup.js';
import { ErrorCodes, TracedError, toTracedError } from '../errors.js';
import type { IpcClient } from '../ipc/client.js';
import { VERSION } from '../version.js';

const INSTRUCTIONS =
  "traced records the developer's work session on one clock: screen and audio, file saves, git activity, focused windows, terminal commands, and editor and assistant events. " +
  'Start with what_happened for "what did I do / where did I get stuck" (moments, commits, failed commands, errors on screen, what was said). ' +
  'Use search to find when something showed up (error codes, identifiers, paths, spoken words), then replay_at or get_frame to stand at that moment and see the screen. ' +
  'status tells whether a session is recording; list_sessions finds sessions. Session arguments accept an id, a unique prefix, or "last"; times accept offsets in ms or wall times like "14:32".';

type JsonSchemaObject = Tool['inputSchema'];

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchemaObject {
  const js = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete js.$schema;
  return { ...js, type: 'object' } as JsonSchemaObject;
}

/** The tool list, computed once: names, descriptions and schemas straight from src/api. */
export function toolDefinitions(): Tool[] {
  return operations.map((op) => ({
    name: op.name,
    title: op.title,
    description: op.description,
    inputSchema: jsonSchema(op.input, 'input'),
    outputSchema: jsonSchema(op.output, 'output'),
    annotations: { title: op.title, readOnlyHint: op.readOnly, destructiveHint: op.destructive === true, openWorldHint: false },
  }));
}

/**
 * A tool result: the JSON as text and as structured content; the screen as
 * image content for get_frame (the PNG instead of its base64 in the text) and
 * for replay_at (the frame of that moment, fetched alongside).
 */
async function toolResult(tool: string, result: Record<string, unknown>, c: IpcClient, args: Record<string, unknown>): Promise<CallToolResult> {
  // Compact JSON: the text is what an assistant's context pays for.
  if (tool === 'get_frame' && typeof result.png_base64 === 'string') {
    // The picture goes once, as image content; the structured result describes it.
    const { png_base64, ...rest } = result;
    return {
      content: [
        { type: 'image', data: png_base64, mimeType: 'image/png' },
        { type: 'text', text: JSON.stringify(rest) },
      ],
      structuredContent: rest,
    };
  }
  const content: CallToolResult['content'] = [{ type: 'text', text: JSON.stringify(result) }];
  if (tool === 'replay_at' && args.include_frame === true && result.frame) {
    try {
      const f = (await c.call('get_frame', { session: result.session_id, at: result.offset_ms })) as { png_base64: string };
      content.push({ type: 'image', data: f.png_base64, mimeType: 'image/png' });
    } catch {
      // the state without the picture is still the answer
    }
  }
  return { content, structuredContent: result };
}

export function errorResult(err: unknown): CallToolResult {
  const e = toTracedError(err);
  return { isError: true, content: [{ type: 'text', text: `${e.code}: ${e.message}` }], _meta: { code: e.code } };
}

const SESSION_URI = /^traced:\/\/sessions\/([^/]+)\/(timeline|digest)$/;

/**
 * Resources: the session list, and each session's timeline and digest (as
 * templates). Prompts: the common asks, phrased for the tools above.
 */
function registerResourcesAndPrompts(server: Server, getClient: () => Promise<IpcClient>, cwd: string): void {
  server.setRequestHandler(ListResourcesRequestSchema, async () => {
    const c = await getClient();
    const { sessions } = (await c.call('list_sessions', { limit: 20 }, { cwd })) as {
      sessions: { id: string; label: string | null; project: string; started_at: number }[];
    };
    return {
      resources: [
        {
          uri: 'traced://sessions',
          name: 'sessions',
          title: 'Recorded sessions',
          description: 'The 50 most recent sessions, newest first.',
          mimeType: 'application/json',
        },
        ...sessions.map((x) => ({
          uri: `traced://sessions/${x.id}/timeline`,
          name: `${x.id} timeline`,
          title: `${x.label ?? x.project} — ${new Date(x.started_at).toISOString()}`,
          description: 'Events of the session in order, with its moments.',
          mimeType: 'application/json',
        })),
      ],
    };
  });
  server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({
    resourceTemplates: [
      {
        uriTemplate: 'traced://sessions/{session}/timeline',
        name: 'timeline',
        title: "A session's timeline",
        description: 'Events in order with moments; {session} is an id, a prefix or "last".',
        mimeType: 'application/json',
      },
      {
        uriTemplate: 'traced://sessions/{session}/digest',
        name: 'digest',
        title: 'What happened in a session',
        description: 'The what_happened digest of the session.',
        mimeType: 'application/json',
      },
    ],
  }));
  server.setRequestHandler(ReadResourceRequestSchema, async (req) => {
    const c = await getClient();
    const uri = req.params.uri;
    let body: unknown;
    if (uri === 'traced://sessions') body = await c.call('list_sessions', { limit: 50 }, { cwd });
    else {
      const m = SESSION_URI.exec(uri);
      if (!m) throw new McpError(McpErrorCode.InvalidParams, `unknown resource ${uri}; try traced://sessions or traced://sessions/last/timeline`);
      const session = decodeURIComponent(m[1] as string);
      try {
        body = m[2] === 'timeline' ? await c.call('get_timeline', { session }, { cwd }) : await c.call('what_happened', { session }, { cwd });
      } catch (err) {
        throw new McpError(McpErrorCode.InvalidParams, `${toTracedError(err).code}: ${toTracedError(err).message}`);
      }
    }
    return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(body, null, 2) }] };
  });
  const prompts = [
    {
      name: 'summarize-last-session',
      title: 'Summarize my last session',
      description: 'What I did in my last session: progress, where I got stuck, what I said.',
      arguments: [{ name: 'session', description: 'A session id or "last" (default).', required: false }],
      text: (a: Record<string, string | undefined>) =>
        `Summarize my work session ${a.session ?? 'last'} recorded by traced. Call what_happened with session "${a.session ?? 'last'}" first. ` +
        'Then give: what I got done (commits, files), where I got stuck and for how long (stuck moments, failed commands, errors on screen), and anything I said that matters. ' +
        'For a moment worth a closer look, use replay_at or get_frame. Keep it to a short list with times.',
    },
    {
      name: 'when-did-it-break',
      title: 'When did this first show up?',
      description: 'Find when an error, identifier or phrase first appeared and what was going on then.',
      arguments: [{ name: 'query', description: 'Error code, identifier or words, e.g. TS2345.', required: true }],
      text: (a: Record<string, string | undefined>) =>
        `Use traced to find when "${a.query ?? ''}" first showed up: search for it, take the earliest hit, then replay_at that moment (and get_frame for the screen). ` +
        'Tell me when it was, what I had just changed (last saved file, git HEAD, recent commands) and what was on screen.',
    },
  ];
  server.setRequestHandler(ListPromptsRequestSchema, async () => ({ prompts: prompts.map(({ text: _t, ...p }) => p) }));
  server.setRequestHandler(GetPromptRequestSchema, async (req) => {
    const p = prompts.find((x) => x.name === req.params.name);
    if (!p) throw new McpError(McpErrorCode.InvalidParams, `no prompt named ${req.params.name}; prompts: ${prompts.map((x) => x.name).join(', ')}`);
    const args = (req.params.arguments ?? {}) as Record<string, string | undefined>;
    for (const a of p.arguments) if (a.required && !args[a.name]) throw new McpError(McpErrorCode.InvalidParams, `prompt ${p.name} needs "${a.name}"`);
    return { description: p.description, messages: [{ role: 'user', content: { type: 'text', text: p.text(args) } }] };
  });
}

/** One MCP server over whatever transport: tools, resources and prompts, calls forwarded to the daemon. */
function buildServer(getClient: () => Promise<IpcClient>, cwd: string, log: Logger, maxArgBytes: number): Server {
  const tools = toolDefinitions();
  const server = new Server({ name: 'traced', version: VERSION }, { capabilities: { tools: {}, resources: {}, prompts: {} }, instructions: INSTRUCTIONS });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools }));
  registerResourcesAndPrompts(server, getClient, cwd);
  server.setRequestHandler(CallToolRequestSchema, async (req): Promise<CallToolResult> => {
    const op = findOperation(req.params.name);
    if (!op) return errorResult(new TracedError(ErrorCodes.IPC_UNKNOWN_METHOD, `no tool named ${req.params.name}`));
    try {
      // Arguments the daemon's frame limit would refuse get their own answer here, instead of a closed connection.
      const bytes = Buffer.byteLength(JSON.stringify(req.params.arguments ?? {}));
      if (bytes > maxArgBytes) {
        throw new TracedError(ErrorCodes.INVALID_PARAMS, `the arguments are ${bytes} bytes; the limit is ${maxArgBytes} (ipc.maxMessageBytes): send less`, {
          data: { limit: 'bytes', max: maxArgBytes },
        });
      }
      const c = await getClient();
      const result = (await c.call(op.name, req.params.arguments ?? {}, { cwd })) as Record<string, unknown>;
      return await toolResult(op.name, result, c, req.params.arguments ?? {});
    } catch (err) {
      const e = toTracedError(err);
      if (e.code === ErrorCodes.INTERNAL || e.code === ErrorCodes.DAEMON_UNREACHABLE) log.warn({ err, tool: op.name }, 'tool call failed');
      return errorResult(e);
    }
  });
  return server;
}

/** A daemon connection shared by every request, re-made when it drops. */
function daemonClient(env: Env): { get: () => Promise<IpcClient>; close: () => void } {
  const { paths } = setup(env);
  let client: IpcClient | undefined;
  let connecting: Promise<IpcClient> | undefined;
  return {
    get: async () => {
      if (client && !client.isClosed) return client;
      connecting ??= connectDaemon(paths, { env }).finally(() => (connecting = undefined));
      client = await connecting;
      return client;
    },
    close: () => client?.close(),
  };
}

export async function runMcp(opts: { env: Env; cwd: string; stdin: NodeJS.ReadableStream; stdout: NodeJS.WritableStream }): Promise<void> {
  const { paths, config } = setup(opts.env);
  const logs = createFileLogger(`${paths.logDir}/mcp.log`, config.logLevel);
  const log = logs.logger.child({ mod: 'mcp' });
  const daemon = daemonClient(opts.env);
  const server = buildServer(daemon.get, opts.cwd, log, config.ipc.maxMessageBytes - 4096);
  const client = { close: daemon.close };
  const transport = new StdioServerTransport(opts.stdin as Readable, opts.stdout as Writable);
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    opts.stdin.once('end', () => resolve());
  });
  await server.connect(transport);
  log.info('mcp server ready on stdio');
  await closed;
  client.close();
  await server.close().catch(() => undefined);
  await logs.close();
}

/**
 * Streamable HTTP on 127.0.0.1 only, behind a bearer token: off unless asked
 * for (`traced mcp --http`). Stateless: each request gets its own server and
 * transport over the shared daemon connection.
 */
export async function runMcpHttp(opts: {
  env: Env;
  cwd: string;
  port: number;
  token: string;
  onListening?: (url: string) => void;
  signal?: AbortSignal;
}): Promise<void> {
  const { paths, config } = setup(opts.env);
  const logs = createFileLogger(`${paths.logDir}/mcp.log`, config.logLevel);
  const log = logs.logger.child({ mod: 'mcp-http' });
  const daemon = daemonClient(opts.env);
  const expected = Buffer.from(`Bearer ${opts.token}`);
  const httpServer = http.createServer((req, res) => {
    const got = Buffer.from(req.headers.authorization ?? '');
    if (got.length !== expected.length || !crypto.timingSafeEqual(got, expected)) {
      res
        .writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' })
        .end(JSON.stringify({ error: 'TRACED_UNAUTHORIZED: a bearer token is required' }));
      return;
    }
    if (new URL(req.url ?? '/', 'http://127.0.0.1').pathname !== '/mcp') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'the MCP endpoint is /mcp' }));
      return;
    }
    const server = buildServer(daemon.get, opts.cwd, log, config.ipc.maxMessageBytes - 4096);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    server
      .connect(transport)
      .then(() => transport.handleRequest(req, res))
      .catch((err: unknown) => {
        log.warn({ err }, 'mcp http request failed');
        if (!res.headersSent) res.writeHead(500).end();
      });
  });
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(opts.port, '127.0.0.1', () => resolve());
  });
  const addr = httpServer.address() as import('node:net').AddressInfo;
  const url = `http://127.0.0.1:${addr.port}/mcp`;
  log.info({ url }, 'mcp http ready');
  opts.onListening?.(url);
  await new Promise<void>((resolve) => {
    const stop = () => httpServer.close(() => resolve());
    opts.signal?.addEventListener('abort', stop, { once: true });
    for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, stop);
  });
  daemon.close();
  await logs.close();
}
