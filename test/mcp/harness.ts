/**
 * The MCP server of src/mcp/server.ts with the real SDK client over an
 * in-memory transport, its daemon calls going through invoke() on
 * testServices() (JSON in and out, as over the socket).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import pino from 'pino';
import { afterAll } from 'vitest';
import { findOperation, invoke } from '../../src/api/index.js';
import { ErrorCodes, TracedError } from '../../src/errors.js';
import { buildServer } from '../../src/mcp/server.js';
import { testServices, type TestServices } from '../helpers/services.js';

const open: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const c of open.splice(0)) await c.close().catch(() => undefined);
});

export async function mcpOver(t: TestServices = testServices()): Promise<{ client: Client; t: TestServices }> {
  const daemon = {
    call: async (method: string, params: unknown = {}, opts: { cwd?: string } = {}) => {
      const op = findOperation(method);
      if (!op) throw new TracedError(ErrorCodes.IPC_UNKNOWN_METHOD, method);
      return JSON.parse(JSON.stringify(await invoke(op, JSON.parse(JSON.stringify(params ?? {})), t.services, { cwd: opts.cwd ?? t.home })));
    },
  };
  const server = buildServer(async () => daemon, t.home, pino({ level: 'silent' }), 1_000_000);
  const [a, b] = InMemoryTransport.createLinkedPair();
  await server.connect(a);
  const client = new Client({ name: 'traced-test', version: '1.0.0' });
  await client.connect(b);
  // The SDK client validates structuredContent against outputSchema once it has the tool list.
  await client.listTools();
  open.push(client, server);
  return { client, t };
}
