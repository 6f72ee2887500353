/**
 * A second, independent MCP client: the MCP Inspector's CLI mode lists the
 * tools of `traced mcp` and calls one.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { operations } from '../../src/api/index.js';
import { BIN, killHomeDaemon, makeHome, ROOT } from '../helpers/env.js';

const INSPECTOR = path.join(ROOT, 'node_modules', '.bin', 'mcp-inspector');

/** The inspector's JSON answer and exit code (it exits non-zero when a tool returns isError). */
function inspector(home: ReturnType<typeof makeHome>, args: string[]): Promise<{ code: number; json: any; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      INSPECTOR,
      ['--cli', '-e', `TRACED_HOME=${home.home}`, process.execPath, BIN, 'mcp', ...args],
      { env: { ...home.env, HOME: home.home }, timeout: 60_000 },
      (err, stdout, stderr) => {
        try {
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, json: JSON.parse(stdout), stderr });
        } catch {
          reject(new Error(`the inspector did not answer JSON: ${err?.message ?? ''}\n${stderr}\n${stdout}`));
        }
      },
    );
  });
}

describe('MCP Inspector CLI against traced mcp', () => {
  const home = makeHome();
  afterAll(() => killHomeDaemon(home));

  it('lists the tools and calls one', async () => {
    const list = await inspector(home, ['--method', 'tools/list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.json.tools.map((t: any) => t.name).sort()).toEqual(operations.map((o) => o.name).sort());
    const call = await inspector(home, ['--method', 'tools/call', '--tool-name', 'list_sessions', '--tool-arg', 'limit=5']);
    expect(call.code, call.stderr).toBe(0);
    expect(call.json.structuredContent).toEqual({ sessions: [], next_cursor: null });
    const bad = await inspector(home, ['--method', 'tools/call', '--tool-name', 'get_session', '--tool-arg', 'session=nope']);
    expect(bad.code).not.toBe(0);
    expect(bad.json.isError).toBe(true);
    expect(bad.json.content[0].text).toMatch(/^TRACED_SESSION_NOT_FOUND/);
  }, 90_000);
});
