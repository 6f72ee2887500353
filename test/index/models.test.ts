/**
 * Model downloads against a local HTTP server: a file with the published hash
 * is installed; a file with another hash is refused and leaves nothing behind.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listModels, pickModel, pullModel, type ModelSpec } from '../../src/index/models.js';
import { cli, makeHome, tempDir } from '../helpers/env.js';

const body = crypto.randomBytes(300_000);
let server: http.Server;
let url: string;
const served: string[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    served.push(req.url ?? '');
    if (req.url?.endsWith('/missing.bin')) {
      res.writeHead(404).end('no');
      return;
    }
    res.writeHead(200, { 'content-length': String(body.length) });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/models`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('traced models', () => {
  it('installs a download whose SHA-1 matches, and picks it', async () => {
    const dir = tempDir('models-');
    const sha1 = crypto.createHash('sha1').update(body).digest('hex');
    const catalog: ModelSpec[] = [{ name: 'base.en', file: 'ggml-base.en.bin', sha1, mb: 1 }];
    const seen: number[] = [];
    const m = await pullModel({ name: 'base.en', dir, baseUrl: url, catalog, onProgress: (got) => seen.push(got) });
    expect(m).toMatchObject({ name: 'base.en', bytes: body.length, verified: true });
    expect(fs.readFileSync(m.file).equals(body)).toBe(true);
    expect(seen.at(-1)).toBe(body.length);
    expect(listModels(dir, catalog).map((x) => x.name)).toEqual(['base.en']);
    expect(pickModel(dir, undefined, catalog)).toBe(m.file);
    expect(served).toContain('/models/ggml-base.en.bin');
  });

  it('refuses a download with another hash (TRACED_MODEL_HASH), leaving nothing installed', async () => {
    const home = makeHome({ TRACED_MODELS_URL: url });
    const r = await cli(home, ['models', 'pull', 'tiny.en']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/TRACED_MODEL_HASH: ggml-tiny\.en\.bin .* has SHA-1 [0-9a-f]{40}, expected c78c86eb1a8faa21b369bcd33207cc90d64ae9df/);
    const dir = path.join(home.home, 'models');
    expect(fs.existsSync(dir) ? fs.readdirSync(dir) : []).toEqual([]);
    const list = await cli(home, ['models', 'list', '--json']);
    expect(list.json.installed).toEqual([]);
    expect(list.json.available.map((m: any) => m.name)).toContain('base.en');
  });

  it('says which names exist and fails cleanly when the server does not have the file', async () => {
    const home = makeHome();
    const bad = await cli(home, ['models', 'pull', 'enormous.en']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/TRACED_INVALID_PARAMS: unknown model "enormous.en"; known: tiny.en, tiny, base.en/);
    await expect(
      pullModel({ name: 'x', dir: tempDir('m-'), baseUrl: url, catalog: [{ name: 'x', file: 'missing.bin', sha1: '0', mb: 0 }] }),
    ).rejects.toMatchObject({ code: 'TRACED_MODEL_DOWNLOAD' });
  });
});
