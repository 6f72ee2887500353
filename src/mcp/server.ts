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
  'status tells whether a session is recording; list_sessions finds sessions. Session arguments accept an id, a unique prefix, or "last". ' +
  'A moment ("at") is "+90s", "+1:30", ms from the session start, "14:32" on its day, ISO 8601 or epoch ms; since/until take "30m"/"2h"/"1d" (ago), ISO 8601 or epoch ms. ' +
  'Every offset_ms in a reply comes with "at", its wall-clock time (ISO 8601, local, with UTC offset); every <x>_offset_ms with <x>_at.';

type JsonSchemaObject = Tool['inputSchema'];
type Node = Record<string, unknown>;

/** What an output schema keeps: the shape (types, fields) that validates structuredContent, not its prose or bounds. */
const OUTPUT_KEYS = new Set(['type', 'properties', 'items', 'anyOf']);
/** Bounds this large are sanity caps (a year of offsets, the year 2200), not guidance for a caller. */
const CAP = 1e9;
/** What an input schema drops: length and pattern checks the daemon makes itself (and explains, see src/api/invalid.ts). */
const INPUT_DROP = new Set(['minLength', 'maxLength', 'pattern', 'maxItems', 'minItems', 'format', 'propertyNames']);

/**
 * A JSON Schema made small for tools/list: safe-integer bounds and
 * `propertyNames: string` (zod's defaults) go everywhere; outputs also lose
 * descriptions, bounds and patterns (the tool description says what a reply
 * means; the schema only has to validate it); `anyOf [T, null]` becomes `type: [T, "null"]`.
 */
function compact(node: unknown, io: 'input' | 'output', depth = 0): unknown {
  if (Array.isArray(node)) return node.map((n) => compact(n, io, depth));
  if (typeof node !== 'object' || node === null) return node;
  const src = node as Node;
  const out: Node = {};
  for (const [k, v] of Object.entries(src)) {
    if (io === 'output' ? !OUTPUT_KEYS.has(k) : INPUT_DROP.has(k)) continue;
    if ((k === 'minimum' || k === 'maximum') && typeof v === 'number' && Math.abs(v) >= CAP) continue;
    if (k === 'additionalProperties' && typeof v === 'object' && v !== null && Object.keys(v).length === 0) continue;
    // An output is described to its first level: the reply's fields and their types; what is inside them shows in the reply.
    if (io === 'output' && depth > 0 && (k === 'properties' || k === 'items')) continue;
    out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as Node).map(([p, x]) => [p, compact(x, io, depth + 1)])) : compact(v, io, depth);
  }
  const any = out.anyOf as Node[] | undefined;
  if (any?.every((x) => typeof x.type === 'string' && Object.keys(x).length === 1)) {
    const { anyOf: _a, ...rest } = out;
    return { ...rest, type: any.map((x) => x.type) };
  }
  if (any?.length === 2) {
    const nul = any.findIndex((x) => x.type === 'null' && Object.keys(x).length === 1);
    const other = any[1 - nul];
    if (nul >= 0 && other && typeof other.type === 'string' && !other.anyOf) {
      const { anyOf: _a, ...rest } = out;
      return { ...rest, ...other, type: [other.type, 'null'] };
    }
  }
  return out;
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchemaObject {
  const js = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Node;
  delete js.$schema;
  return { ...(compact(js, io) as Node), type: 'object' } as JsonSchemaObject;
}

/**
 * The tool list, computed once: names, descriptions and schemas straight from
 * src/api. An output schema is published once: a tool replying like an earlier
 * one says so in its description instead of repeating the schema.
 */
export function toolDefinitions(): Tool[] {
  const seen = new Map<string, string>();
  return operations.map((op) => {
    const outputSchema = jsonSchema(op.output, 'output');
    const key = JSON.stringify(outputSchema);
    const like = seen.get(key);
    if (!like) seen.set(key, op.name);
    return {
      name: op.name,
      title: op.title,
      description: like ? `${op.description} Replies like ${like}.` : op.description,
      inputSchema: jsonSchema(op.input, 'input'),
      ...(like ? {} : { outputSchema }),
      // destructiveHint only means something for a tool that is not read-only.
      annotations: op.readOnly
        ? { readOnlyHint: true, openWorldHint: false }
        : { readOnlyHint: false, destructiveHint: op.destructive === true, openWorldHint: false },
    };
  });
}

/**
 * A tool result: the JSON as text and as structured content; the screen as
 * image content for get_frame (the PNG instead of its base64 in the text) and
 * for replay_at (the frame of that moment, fetched alongside).
 */
async function toolResult(tool: string, result: Record<string, unknown>, c: DaemonCalls, args: Record<string, unknown>): Promise<CallToolResult> {
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
function registerResourcesAndPrompts(server: Server, getClient: () => Promise<DaemonCalls>, cwd: string): void {
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

/** What the MCP server needs of a daemon connection: its calls. */
export type DaemonCalls = Pick<IpcClient, 'call'>;

/** One MCP server over whatever transport: tools, resources and prompts, calls forwarded to the daemon. */
export function buildServer(getClient: () => Promise<DaemonCalls>, cwd: string, log: Logger, maxArgBytes: number): Server {
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
