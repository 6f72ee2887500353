/**
 * config.json is checked against the schema at every depth: unknown keys are
 * refused with a did-you-mean, a file that is not an object is refused, and a
 * JSON syntax error names its line and column. Asserts codes and the named
 * key/position, not the wording.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { distance, jsonErrorAt, loadConfig, readConfigFile } from '../../src/config/config.js';
import { ErrorCodes, type TracedError } from '../../src/errors.js';
import { ROOT, tempDir } from '../helpers/env.js';

function refusal(file: unknown, env: Record<string, string> = {}): TracedError {
  try {
    loadConfig({ env, file, source: '/h/config.json' });
  } catch (err) {
    return err as TracedError;
  }
  throw new Error('the config was accepted');
}

describe('config validation', () => {
  it('refuses a misspelt nested key and suggests the right one', () => {
    const e = refusal({ capture: { segmentSecond: 30 } });
    expect(e.code).toBe(ErrorCodes.CONFIG_INVALID);
    expect(e.data?.unknown_keys).toEqual([{ path: 'capture.segmentSecond', suggestion: 'capture.segmentSeconds' }]);
    expect(e.message).toContain('did you mean "capture.segmentSeconds"');
    expect(e.message).toContain('/h/config.json');
  });

  it('suggests at every depth, across letter case and swapped letters', () => {
    expect(refusal({ index: { ocr: { enabeld: false } } }).data?.unknown_keys).toEqual([{ path: 'index.ocr.enabeld', suggestion: 'index.ocr.enabled' }]);
    expect(refusal({ loglevel: 'debug' }).data?.unknown_keys).toEqual([{ path: 'loglevel', suggestion: 'logLevel' }]);
    expect(refusal({ queue: { timeoutMs: { segmnet: 5000 } } }).data?.unknown_keys).toEqual([
      { path: 'queue.timeoutMs.segmnet', suggestion: 'queue.timeoutMs.segment' },
    ]);
  });

  it('points a key put at the wrong level to its place', () => {
    expect(refusal({ segmentSeconds: 30 }).data?.unknown_keys).toEqual([{ path: 'segmentSeconds', suggestion: 'capture.segmentSeconds' }]);
  });

  it('names an unknown key with nothing close without guessing', () => {
    expect(refusal({ zzzz: 1 }).data?.unknown_keys).toEqual([{ path: 'zzzz' }]);
  });

  it('refuses __proto__ as a key instead of merging it', () => {
    const e = refusal(JSON.parse('{"__proto__": {"logLevel": "silent"}}'));
    expect(e.data?.unknown_keys).toEqual([{ path: '__proto__' }]);
    expect(({} as Record<string, unknown>).logLevel).toBeUndefined();
  });

  it('refuses an array, null, a string and a number as the whole file', () => {
    for (const file of [[], [{ logLevel: 'info' }], null, 'info', 42]) {
      const e = refusal(file);
      expect(e.code).toBe(ErrorCodes.CONFIG_INVALID);
      expect(e.message).toMatch(/must hold a JSON object/);
      expect(e.message).toMatch(/Fix:/);
    }
  });

  it('refuses a section that is null or an array with its path', () => {
    const e = refusal({ capture: null, files: { ignore: 'x' } });
    expect(e.code).toBe(ErrorCodes.CONFIG_INVALID);
    expect(e.data?.issues).toEqual(expect.arrayContaining([expect.stringContaining('"capture"'), expect.stringContaining('"files.ignore"')]));
  });

  it('names the environment variable whose value is refused', () => {
    const e = refusal({}, { TRACED_LOG_LEVEL: 'loud' });
    expect(e.data?.issues).toEqual([expect.stringContaining('(from TRACED_LOG_LEVEL)')]);
  });

  it('still accepts every known key', () => {
    const c = loadConfig({
      env: {},
      file: {
        capture: { segmentSeconds: 30 },
        index: { ocr: { enabled: false } },
        queue: { timeoutMs: { segment: 5000 } },
        videodb: { index: { scenes: true } },
      },
    });
    expect(c.capture.segmentSeconds).toBe(30);
    expect(c.index.ocr.enabled).toBe(false);
  });

  it('accepts the example in the README', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const example = /### Configuration[\s\S]*?```json\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toBeDefined();
    expect(() => loadConfig({ env: {}, file: JSON.parse(example as string) })).not.toThrow();
  });

  it('counts a swap of two letters as one edit', () => {
    expect(distance('enabeld', 'enabled')).toBe(1);
    expect(distance('segmentsecond', 'segmentseconds')).toBe(1);
  });
});

describe('config.json syntax', () => {
  const write = (text: string) => {
    const file = path.join(tempDir('cfg-'), 'config.json');
    fs.writeFileSync(file, text);
    return file;
  };
  const syntaxError = (text: string) => {
    try {
      readConfigFile(write(text));
    } catch (err) {
      return err as TracedError;
    }
    throw new Error('the file was accepted');
  };

  it('names the line and column of a syntax error', () => {
    const e = syntaxError('{\n  "logLevel": "info",\n  "capture": { "fps": 2, }\n}\n');
    expect(e.code).toBe(ErrorCodes.CONFIG_INVALID);
    expect(e.data).toMatchObject({ line: 3, column: 26 });
    expect(e.message).toContain('line 3, column 26');
  });

  it('points at the end of the text when it stops early', () => {
    expect(syntaxError('{"capture": {"fps": 2}\n\n').data).toMatchObject({ line: 1, column: 23 });
  });

  it('never quotes the file back (it may hold an API key)', () => {
    const e = syntaxError('{"videodb": {"apiKey": "sk-secret-123"},}');
    expect(e.message).not.toContain('sk-secret-123');
  });

  it('reads an empty file and a byte-order mark as JSON', () => {
    expect(readConfigFile(write('  \n'))).toEqual({});
    expect(readConfigFile(write('\ufeff{"logLevel":"warn"}'))).toEqual({ logLevel: 'warn' });
  });

  it('finds the same errors as JSON.parse, deep nesting included', () => {
    const cases = ['[1,2', '{"a":1,}', '"\\u12g4"', '01', '-', '[tru]', `${'['.repeat(50_000)}`, '{"a":[1,{"b":null}]}', ' true ', '"\\n"'];
    for (const t of cases) {
      let valid = true;
      try {
        JSON.parse(t);
      } catch {
        valid = false;
      }
      expect(jsonErrorAt(t) === undefined, t.slice(0, 20)).toBe(valid);
    }
  });
});
