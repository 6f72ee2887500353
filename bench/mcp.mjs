// A tool call through `traced mcp` (the SDK client over stdio → traced mcp → IPC → daemon) next
// to the same operation over IPC directly, interleaved in the same run.
// Usage: npm run build && node bench/mcp.mjs [calls=2000]
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { IpcClient } from '../dist/ipc/client.js';
import { percentiles, ROOT, startDaemon, tempHome, us } from './lib.mjs';

const calls = Number(process.argv[2] ?? 2000);
const home = tempHome();
const d = await startDaemon(home);
const ipc = await IpcClient.connect(d.socket);
const transport = new StdioClientTransport({ command: process.execPath, args: [path.join(ROOT, 'bin', 'traced.js'), 'mcp'], env: d.env, stderr: 'ignore' });
const mcp = new Client({ name: 'bench', version: '1' });
await mcp.connect(transport);
for (let i = 0; i < 200; i++) {
  await mcp.callTool({ name: 'status', arguments: {} });
  await ipc.call('status', {});
}
const viaMcp = [];
const viaIpc = [];
for (let i = 0; i < calls; i++) {
  let a = process.hrtime.bigint();
  await mcp.callTool({ name: 'status', arguments: {} });
  viaMcp.push(Number(process.hrtime.bigint() - a));
  a = process.hrtime.bigint();
  await ipc.call('status', {});
  viaIpc.push(Number(process.hrtime.bigint() - a));
}
const m = percentiles(viaMcp);
const p = percentiles(viaIpc);
console.log(`status x ${calls}, interleaved`);
console.log(`  through traced mcp (stdio + IPC): p50 ${us(m.p50)}, p90 ${us(m.p90)}, p99 ${us(m.p99)} (goal p50 <= 3 ms)`);
console.log(`  IPC directly:                     p50 ${us(p.p50)}, p90 ${us(p.p90)}, p99 ${us(p.p99)}`);
console.log(`  MCP overhead at p50: ${us(m.p50 - p.p50)} (${(m.p50 / p.p50).toFixed(1)}x)`);
await mcp.close();
ipc.close();
d.child.kill('SIGTERM');
