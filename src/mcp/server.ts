/**
 * `traced mcp`: a stdio MCP server built by looping over the operation list.
 * Every operation is a tool (JSON Schema from its zod input and output); every
 * call is forwarded to the daemon over IPC, which validates it, so an invalid
 * argument comes back as an `isError` result carrying TRACED_INVALID_PARAMS
 * like every other failure. Nothing but protocol is written to stdout.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Readable, Writable } from 'node:stream';
import { z } from 'zod';
import { operations, findOperation } from '../api/index.js';
import { connectDaemon } from '../cli/connect.js';
import type { Env } from '../daemon/config.js';
import { createFileLogger } from '../daemon/logger.js';
import { setup } from '../daemon/main.js';
import { ErrorCodes, TracedError, toTracedError } from '../errors.js';
import type { IpcClient } from '../ipc/client.js';
import { VERSION } from '../version.js';

const INSTRUCTIONS =
  'traced records the developer\'s work session (file saves, git commits and checkouts, focused windows, editor and assistant events) on one clock. ' +
  'Use status to see whether a session is recording, list_sessions to find sessions, search to find when something happened, ' +
  'get_session or get_timeline to see what happened in order. Session arguments accept an id, a unique prefix, or "last".';

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
    annotations: { title: op.title, readOnlyHint: op.readOnly, destructiveHint: false, openWorldHint: false },
  }));
}

export function errorResult(err: unknown): CallToolResult {
  const e = toTracedError(err);
  return { isError: true, content: [{ type: 'text', text: `${e.code}: ${e.message}` }], _meta: { code: e.code } };
}

export async function runMcp(opts: { env: Env; cwd: string; stdin: NodeJS.ReadableStream; stdout: NodeJS.WritableStream }): Promise<void> {
  const { paths, config } = setup(opts.env);
  const logs = createFileLogger(`${paths.logDir}/mcp.log`, config.logLevel);
  const log = logs.logger.child({ mod: 'mcp' });
  const tools = toolDefinitions();
  let client: IpcClient | undefined;
  let connecting: Promise<IpcClient> | undefined;
  const getClient = async (): Promise<IpcClient> => {
    if (client && !client.isClosed) return client;
    connecting ??= connectDaemon(paths, { env: opts.env }).finally(() => (connecting = undefined));
    client = await connecting;
    return client;
  };

  const server = new Server({ name: 'traced', version: VERSION }, { capabilities: { tools: {} }, instructions: INSTRUCTIONS });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools }));
  server.setRequestHandler(CallToolRequestSchema, async (req): Promise<CallToolResult> => {
    const op = findOperation(req.params.name);
    if (!op) return errorResult(new TracedError(ErrorCodes.IPC_UNKNOWN_METHOD, `no tool named ${req.params.name}`));
    try {
      const c = await getClient();
      const result = await c.call(op.name, req.params.arguments ?? {}, { cwd: opts.cwd });
      return { content: [{ type: 'text', text: JSON.stringify(result, null, 2) }], structuredContent: result as Record<string, unknown> };
    } catch (err) {
      const e = toTracedError(err);
      if (e.code === ErrorCodes.INTERNAL || e.code === ErrorCodes.DAEMON_UNREACHABLE) log.warn({ err, tool: op.name }, 'tool call failed');
      return errorResult(e);
    }
  });

  const transport = new StdioServerTransport(opts.stdin as Readable, opts.stdout as Writable);
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    opts.stdin.once('end', () => resolve());
  });
  await server.connect(transport);
  log.info({ tools: tools.length }, 'mcp server ready');
  await closed;
  client?.close();
  await server.close().catch(() => undefined);
  await logs.close();
}
