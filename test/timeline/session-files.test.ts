/**
 * The session folder is the only place that knows the folder format, and it
 * confines every path: an id that is not a session id never names a folder,
 * and a symlink planted in a folder is neither read nor written through.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/errors.js';
import { SessionFiles, UPLOADS_JSONL } from '../../src/timeline/session-files.js';
import { tempDir } from '../helpers/env.js';

const ID = '20260101-120000-abcd';

describe('session files', () => {
  it('refuses anything but a session id as a folder name', () => {
    const files = new SessionFiles(tempDir('sf-'));
    for (const bad of ['../../escape', '/etc', '20260101-120000-ab/../x', '', 'last', '20260101-120000-ABCD']) {
      expect(() => files.dir(bad), bad).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_PARAMS }));
    }
    expect(files.dir(ID)).toBe(path.join(files.root, ID));
  });

  it('neither reads nor writes through a symlink planted in a session folder', () => {
    const root = tempDir('sf-');
    const outside = tempDir('sf-out-');
    const target = path.join(outside, 'victim.jsonl');
    fs.writeFileSync(target, `${JSON.stringify({ seq: 1, type: 'x', session_id: ID })}\n`);
    const files = new SessionFiles(root);
    const dir = files.ensure(ID);
    fs.symlinkSync(target, path.join(dir, 'events.jsonl'));
    fs.symlinkSync(target, path.join(dir, UPLOADS_JSONL));
    expect(files.readLines(ID, 'events.jsonl')).toEqual([]);
    expect(files.lastSeq(ID)).toBe(0);
    expect(() => files.appendLine(ID, UPLOADS_JSONL, { remote_id: 'r' })).toThrow(/ELOOP|symbolic/);
    expect(() =>
      files.appendEvents(ID, [{ session_id: ID, seq: 2, parent_seq: null, ts: 1, offset_ms: 1, channel: 'editor', type: 'editor.x', data: {} }]),
    ).toThrow(/ELOOP|symbolic/);
    expect(fs.readFileSync(target, 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('lists only real session folders (a symlink named like one is not)', () => {
    const root = tempDir('sf-');
    const files = new SessionFiles(root);
    files.ensure(ID);
    fs.symlinkSync(tempDir('sf-out-'), path.join(root, '20260101-120001-efgh'));
    fs.mkdirSync(path.join(root, 'not-a-session'));
    expect(files.list()).toEqual([ID]);
  });
});
