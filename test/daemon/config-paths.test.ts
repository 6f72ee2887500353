import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, readConfigFile } from '../../src/config/config.js';
import { defaultHome, ensurePrivateDir, resolvePaths } from '../../src/config/paths.js';
import { ErrorCodes } from '../../src/errors.js';
import { tempDir } from '../helpers/env.js';

describe('config', () => {
  it('has defaults for everything', () => {
    const c = loadConfig({ env: {}, file: {} });
    expect(c.ipc.maxMessageBytes).toBe(1024 * 1024);
    expect(c.session.defaultProfile).toBe('events');
  });
  it('lets env win over the file', () => {
    const c = loadConfig({ env: { TRACED_LOG_LEVEL: 'warn', TRACED_SOCKET_DIR: '/tmp/s' }, file: { logLevel: 'debug', files: { ignore: ['*.gen.ts'] } } });
    expect(c.logLevel).toBe('warn');
    expect(c.socketDir).toBe('/tmp/s');
    expect(c.files.ignore).toEqual(['*.gen.ts']);
  });
  it('rejects a bad value with the path of the problem', () => {
    expect(() => loadConfig({ env: {}, file: { ipc: { maxMessageBytes: 'big' } } })).toThrowError(expect.objectContaining({ code: ErrorCodes.CONFIG_INVALID }));
  });
  it('reads a missing file as empty and refuses broken JSON', () => {
    const d = tempDir('cfg-');
    expect(readConfigFile(path.join(d, 'none.json'))).toEqual({});
    fs.writeFileSync(path.join(d, 'bad.json'), '{nope');
    expect(() => readConfigFile(path.join(d, 'bad.json'))).toThrowError(expect.objectContaining({ code: ErrorCodes.CONFIG_INVALID }));
  });
});

describe('paths', () => {
  it('follows each platform convention', () => {
    expect(defaultHome({ HOME: '/h' }, 'linux')).toBe('/h/.local/share/traced');
    expect(defaultHome({ HOME: '/h', XDG_DATA_HOME: '/x' }, 'linux')).toBe('/x/traced');
    expect(defaultHome({ HOME: '/h' }, 'darwin')).toBe('/h/Library/Application Support/traced');
    expect(resolvePaths({ env: { HOME: '/h', XDG_RUNTIME_DIR: '/run/user/1' }, platform: 'linux' }).socket).toBe('/run/user/1/traced/traced.sock');
    expect(resolvePaths({ env: { TRACED_HOME: '/t' }, platform: 'linux' }).socket).toBe('/t/run/traced.sock');
    expect(resolvePaths({ env: { HOME: 'C:\\Users\\a', USERNAME: 'a b' }, platform: 'win32' }).socket).toBe('\\\\.\\pipe\\traced-a_b');
  });
  it('fails a too-long socket path with what to set', () => {
    try {
      resolvePaths({ env: { TRACED_HOME: `/tmp/${'d'.repeat(100)}` }, platform: 'linux' });
      expect.unreachable();
    } catch (err) {
      expect((err as { code: string }).code).toBe(ErrorCodes.SOCKET_PATH_TOO_LONG);
      expect((err as Error).message).toMatch(/TRACED_SOCKET_DIR/);
    }
  });
  it('makes the socket directory private and refuses a symlink', () => {
    const d = path.join(tempDir('priv-'), 'run');
    fs.mkdirSync(d, { mode: 0o755 });
    fs.chmodSync(d, 0o755);
    ensurePrivateDir(d);
    expect(fs.statSync(d).mode & 0o777).toBe(0o700);
    const link = `${d}-link`;
    fs.symlinkSync(d, link);
    expect(() => ensurePrivateDir(link)).toThrowError(expect.objectContaining({ code: ErrorCodes.SOCKET_DIR_INSECURE }));
  });
});
