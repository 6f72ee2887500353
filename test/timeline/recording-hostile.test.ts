/**
 * Import is a trust boundary (DESIGN §11, issue 13): recordings crafted to
 * climb out of TRACED_HOME, follow symlinks, blow the stack, break types or
 * echo the file they came from. Each attempt must end in a clean import or
 * TRACED_IMPORT_INVALID — never TRACED_INTERNAL — and the file tree around
 * the temp home must be the same before and after.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, type TracedError, toTracedError } from '../../src/errors.js';
import { confinedPath, copyFileConfined, isPlainRelative } from '../../src/timeline/confine.js';
import { importRecording, RECORDING_FORMAT, readRecording, writeRecording } from '../../src/timeline/recording.js';
import type { Store } from '../../src/timeline/store.js';
import { testServices } from '../helpers/services.js';
import { tempDir } from '../helpers/env.js';

const ID = '20250101-120000-abcd';
const T0 = 1_700_000_000_000;
const MARK = 'PLANTED-c0ffee';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Doc = { [k: string]: Json };

const opened: Store[] = [];
const parents: string[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
  // The 300k test leaves ~150 MB behind otherwise.
  for (const p of parents.splice(0)) fs.rmSync(p, { recursive: true, force: true });
});

/**
 * parent/ holds everything a test touches: box/home is TRACED_HOME, so
 * `sessions/../../escape` lands in box/, and the media dir, inputs and the
 * "outside" files sit beside it. Nothing may change under parent/ except home/.
 */
function world() {
  const parent = tempDir('imp-');
  parents.push(parent);
  const home = path.join(parent, 'box', 'home');
  const sessionsDir = path.join(home, 'sessions');
  const mediaDir = path.join(parent, 'media');
  const inputs = path.join(parent, 'in');
  const outside = path.join(parent, 'outside');
  for (const d of [sessionsDir, mediaDir, inputs, outside]) fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(outside, 'secret'), `${MARK} outside secret\n`);
  fs.mkdirSync(path.join(mediaDir, 'display-1'));
  fs.writeFileSync(path.join(mediaDir, 'display-1', '00000.mkv'), 'MKV0');
  // The real services around the store: imported events pass the event writer's gate.
  const t = testServices({ home });
  const store = t.store;
  let n = 0;
  return {
    parent,
    home,
    sessionsDir,
    mediaDir,
    inputs,
    outside,
    store,
    sessionDir: (id: string) => path.join(sessionsDir, id),
    gates: {
      restore: (id: string, evs: Parameters<typeof t.events.restore>[1]) => t.events.restore(id, evs),
      gateText: (x: string | null) => t.events.gateText(x),
    },
    /** Writes a recording (a document, or raw text) to a fresh input file. */
    input(rec: Doc | string, form: 'json' | 'jsonl' = 'jsonl'): string {
      const file = path.join(inputs, `r${n++}.${form}`);
      // The JSON form starts with a line that is not JSON by itself, as writeRecording's does
      // (without pretty-printing, whose recursion would not survive the deep values).
      fs.writeFileSync(file, typeof rec === 'string' ? rec : form === 'json' ? `{\n${JSON.stringify(rec).slice(1)}` : toJsonl(rec));
      return file;
    },
  };
}
type World = ReturnType<typeof world>;

function toJsonl(rec: Doc): string {
  const { events, ...meta } = rec;
  return [JSON.stringify(meta), ...(Array.isArray(events) ? events.map((e) => JSON.stringify(e)) : [])].join('\n') + '\n';
}

function event(seq: number, data: Json = { path: 'src/a.ts', kind: 'change' }): Doc {
  return { seq, parent_seq: null, type: 'file.changed', timestamp: T0 + seq, offset: seq, session_id: ID, channel: 'files', data };
}

function valid(events = 3): Doc {
  return {
    format: RECORDING_FORMAT,
    session: { id: ID, project: '/p', label: 'demo', profile: 'full', state: 'ended', started_at: T0, ended_at: T0 + 60_000, end_offset_ms: 60_000 },
    channels: [
      { id: 'display:1', kind: 'media', store: true },
      { id: 'files', kind: 'event', store: true },
    ],
    annotations: [{ offset_ms: 10, ts: T0 + 10, text: 'a note' }],
    media: [{ channel: 'display:1', seq: 0, path: 'display-1/00000.mkv', start_offset_ms: 0, duration_ms: 60_000, bytes: 4, sha256: null }],
    event_count: events,
    events: Array.from({ length: events }, (_, i) => event(i + 1)),
  };
}

/** Every entry under `root` except `skip`, with what would show a write: kind, size, mtime, link target. */
function snapshot(root: string, skip: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of fs.readdirSync(dir)) {
      const p = path.join(dir, name);
      if (p === skip) continue;
      const st = fs.lstatSync(p);
      const kind = st.isSymbolicLink() ? `link->${fs.readlinkSync(p)}` : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
      out.set(path.relative(root, p), `${kind}:${st.isFile() ? st.size : ''}:${st.isFile() ? st.mtimeMs : ''}`);
      if (st.isDirectory() && !st.isSymbolicLink()) walk(p);
    }
  };
  walk(root);
  return out;
}

/**
 * Reads and imports `file`, and checks the invariants every attempt must
 * keep: a result or IMPORT_INVALID, nothing written outside home, and after a
 * refusal no session row and no new session folder.
 */
function attempt(w: World, file: string, opts: { newId?: string; mediaDir?: string | null } = {}) {
  const before = snapshot(w.parent, w.home);
  const sessionsBefore = fs.readdirSync(w.sessionsDir).sort();
  const rowsBefore = w.store.db.prepare('SELECT COUNT(*) AS n FROM sessions').get() as { n: number };
  let result: ReturnType<typeof importRecording> | undefined;
  let error: TracedError | undefined;
  try {
    const rec = readRecording(file);
    result = importRecording(w.store, rec, {
      ...w.gates,
      newId: opts.newId,
      sessionDir: w.sessionDir,
      mediaDir: opts.mediaDir === null ? undefined : (opts.mediaDir ?? w.mediaDir),
    });
  } catch (err) {
    error = toTracedError(err);
  }
  expect(snapshot(w.parent, w.home)).toEqual(before);
  if (error) {
    if (error.code !== ErrorCodes.IMPORT_INVALID) throw new Error(`expected IMPORT_INVALID, got ${error.code}: ${error.message}`, { cause: error });
    expect(typeof error.data?.field).toBe('string');
    expect(fs.readdirSync(w.sessionsDir).sort()).toEqual(sessionsBefore);
    expect(w.store.db.prepare('SELECT COUNT(*) AS n FROM sessions').get()).toEqual(rowsBefore);
  }
  return { result, error };
}

function refused(w: World, file: string, opts?: { newId?: string; mediaDir?: string | null }): TracedError {
  const { result, error } = attempt(w, file, opts);
  expect(result).toBeUndefined();
  return error as TracedError;
}

/** `rec` with the value at `where` (a path of keys and indices) replaced. */
function mutate(rec: Doc, where: (string | number)[], value: Json | undefined): Doc {
  const copy = structuredClone(rec) as Doc;
  let at: any = copy;
  for (const k of where.slice(0, -1)) at = at[k];
  const last = where[where.length - 1] as string | number;
  if (value === undefined) delete at[last];
  else at[last] = value;
  return copy;
}

describe('confine', () => {
  it('accepts plain relative names and refuses every other kind', () => {
    for (const ok of ['display-1/00000.mkv', 'a', 'mic-default/00001.ogg', 'a/b/c', 'display:1/x_y.z']) expect(isPlainRelative(ok), ok).toBe(true);
    for (const bad of [
      '',
      '/etc/passwd',
      '../x',
      'a/../b',
      'a/..',
      '..',
      '.',
      '.hidden',
      'a/.b',
      'a\\b',
      'a\0b',
      'a//b',
      'a/',
      'a/b/c/d',
      'C:x',
      'a b',
      'é',
      'a/\n',
      42,
      null,
      ['a'],
    ]) {
      expect(isPlainRelative(bad), JSON.stringify(bad)).toBe(false);
    }
  });

  it('refuses a path that leaves its root or passes a symlink below it', () => {
    const w = world();
    expect(confinedPath(w.mediaDir, 'display-1/00000.mkv')).toBe(path.join(w.mediaDir, 'display-1', '00000.mkv'));
    expect(confinedPath(w.mediaDir, 'not/yet/there')).toBe(path.join(w.mediaDir, 'not', 'yet', 'there'));
    for (const bad of ['../x', '/etc/passwd', 'a/../../x', '', '.', 'a\0b'])
      expect(() => confinedPath(w.mediaDir, bad), bad).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_PARAMS }));
    fs.symlinkSync(w.outside, path.join(w.mediaDir, 'link'));
    expect(() => confinedPath(w.mediaDir, 'link/secret')).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_PARAMS }));
    expect(() => confinedPath(w.mediaDir, 'link')).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_PARAMS }));
  });

  it('copies a regular file but neither reads through a symlink nor writes through one', () => {
    const w = world();
    const src = path.join(w.mediaDir, 'display-1', '00000.mkv');
    expect(copyFileConfined(src, path.join(w.inputs, 'copy'))).toBe(4);
    expect(fs.readFileSync(path.join(w.inputs, 'copy'), 'utf8')).toBe('MKV0');
    fs.symlinkSync(path.join(w.outside, 'secret'), path.join(w.mediaDir, 'ln'));
    expect(() => copyFileConfined(path.join(w.mediaDir, 'ln'), path.join(w.inputs, 'c2'))).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_PARAMS }),
    );
    expect(fs.existsSync(path.join(w.inputs, 'c2'))).toBe(false);
    const target = path.join(w.outside, 'target');
    fs.writeFileSync(target, 'untouched');
    fs.symlinkSync(target, path.join(w.inputs, 'dest-link'));
    copyFileConfined(src, path.join(w.inputs, 'dest-link'));
    expect(fs.readFileSync(target, 'utf8')).toBe('untouched');
    expect(fs.lstatSync(path.join(w.inputs, 'dest-link')).isFile()).toBe(true);
    expect(() => copyFileConfined(w.mediaDir, path.join(w.inputs, 'c3'))).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_PARAMS }));
    expect(fs.readdirSync(w.inputs).filter((f) => f.endsWith('.part'))).toEqual([]);
  });
});

describe('importing hostile recordings', () => {
  it('imports a valid recording in both forms and copies its media (the control)', () => {
    for (const form of ['json', 'jsonl'] as const) {
      const w = world();
      const { result } = attempt(w, w.input(valid(), form));
      expect(result).toEqual({ session_id: ID, events: 3, media: 1 });
      expect(fs.readFileSync(path.join(w.sessionDir(ID), 'display-1', '00000.mkv'), 'utf8')).toBe('MKV0');
      const out = path.join(w.inputs, `again.${form}`);
      writeRecording(w.store, ID, out, form);
      expect(attempt(w, out, { newId: '20250102-000000-new1', mediaDir: w.sessionDir(ID) }).result).toEqual({
        session_id: '20250102-000000-new1',
        events: 3,
        media: 1,
      });
    }
  });

  it('skips media the manifest lists but the media folder lacks', () => {
    const w = world();
    const rec = mutate(valid(), ['media', 0, 'path'], 'display-1/00007.mkv');
    expect(attempt(w, w.input(rec)).result).toEqual({ session_id: ID, events: 3, media: 0 });
  });

  it('refuses a session id that climbs out of the sessions folder', () => {
    const w = world();
    for (const id of ['../../escape', '../escape', `${w.parent}/abs-escape`, `${ID}/../../escape`, '20250101-120000-ABCD', `${ID}\0`, '', 42, null]) {
      const err = refused(w, w.input(mutate(valid(), ['session', 'id'], id)));
      expect(err.data?.field).toBe('session.id');
    }
    expect(fs.existsSync(path.join(w.parent, 'box', 'escape'))).toBe(false);
    // newId is checked too: the caller's id reaches sessionDir() only after the pattern.
    expect(refused(w, w.input(valid()), { newId: '../../escape' }).data?.field).toBe('newId');
  });

  it('refuses media paths that are absolute, climb, use backslashes or hold NUL', () => {
    const w = world();
    fs.mkdirSync(path.join(w.parent, 'box', 'planted'));
    fs.writeFileSync(path.join(w.parent, 'box', 'planted', 'x'), 'bait');
    for (const p of [
      '../../../planted/x',
      '../x',
      `${w.parent}/planted-abs`,
      '/etc/passwd',
      'display-1/../../x',
      'display-1\\..\\..\\x',
      'display-1/\0.mkv',
      '.hidden',
      'a//b',
      'a/b/c/d',
      'C:x',
      '',
      7,
      null,
    ]) {
      const err = refused(w, w.input(mutate(valid(), ['media', 0, 'path'], p)));
      expect(err.data?.field).toBe('media[0].path');
    }
  });

  it('never copies a symlink in the media folder that points outside it', () => {
    const w = world();
    fs.rmSync(path.join(w.mediaDir, 'display-1', '00000.mkv'));
    fs.symlinkSync(path.join(w.outside, 'secret'), path.join(w.mediaDir, 'display-1', '00000.mkv'));
    expect(refused(w, w.input(valid())).data?.field).toBe('media[0].path');
    // A symlinked folder on the way is refused the same.
    fs.rmSync(path.join(w.mediaDir, 'display-1'), { recursive: true });
    fs.mkdirSync(path.join(w.outside, 'display-1'));
    fs.writeFileSync(path.join(w.outside, 'display-1', '00000.mkv'), MARK);
    fs.symlinkSync(path.join(w.outside, 'display-1'), path.join(w.mediaDir, 'display-1'));
    expect(refused(w, w.input(valid())).data?.field).toBe('media[0].path');
    const everything = spawnSync('grep', ['-r', '-l', MARK, w.home], { encoding: 'utf8' });
    expect(everything.stdout).toBe('');
  });

  it('refuses a FIFO or a folder in place of a media file without hanging', () => {
    const w = world();
    fs.rmSync(path.join(w.mediaDir, 'display-1', '00000.mkv'));
    fs.mkdirSync(path.join(w.mediaDir, 'display-1', '00000.mkv'));
    expect(refused(w, w.input(valid())).data?.field).toBe('media[0].path');
    fs.rmdirSync(path.join(w.mediaDir, 'display-1', '00000.mkv'));
    if (spawnSync('mkfifo', [path.join(w.mediaDir, 'display-1', '00000.mkv')]).status === 0) {
      expect(refused(w, w.input(valid())).data?.field).toBe('media[0].path');
    }
  });

  it('does not write through a symlink planted as the destination or as the session folder', () => {
    const w = world();
    const target = path.join(w.outside, 'target');
    fs.writeFileSync(target, 'untouched');
    fs.mkdirSync(path.join(w.sessionDir(ID), 'display-1'), { recursive: true });
    fs.symlinkSync(target, path.join(w.sessionDir(ID), 'display-1', '00000.mkv'));
    expect(refused(w, w.input(valid())).data?.field).toBe('media[0].path');
    fs.rmSync(w.sessionDir(ID), { recursive: true });
    fs.symlinkSync(w.outside, w.sessionDir(ID));
    expect(refused(w, w.input(valid())).data?.field).toBe('session.id');
    expect(fs.readFileSync(target, 'utf8')).toBe('untouched');
    expect(fs.readdirSync(w.outside).sort()).toEqual(['secret', 'target']);
  });

  it('refuses wrong types and broken values in every field, in both forms', () => {
    const cases: [(string | number)[], Json | undefined, string][] = [
      [['events', 0, 'type'], { toString: 'x' }, 'events[0].type'],
      [['events', 0, 'type'], 'File.Changed', 'events[0].type'],
      [['events', 0, 'type'], 'a'.repeat(65), 'events[0].type'],
      [['events', 0, 'seq'], '1', 'events[0].seq'],
      [['events', 0, 'seq'], 0, 'events[0].seq'],
      [['events', 0, 'seq'], 1.5, 'events[0].seq'],
      [['events', 0, 'parent_seq'], -1, 'events[0].parent_seq'],
      [['events', 0, 'data'], [1, 2], 'events[0].data'],
      [['events', 0, 'data'], null, 'events[0].data'],
      [['events', 0, 'data'], 'x', 'events[0].data'],
      [['events', 0, 'channel'], 5, 'events[0].channel'],
      [['events', 0, 'channel'], 'c'.repeat(65), 'events[0].channel'],
      [['events', 0, 'timestamp'], '2025', 'events[0].timestamp'],
      [['events', 0, 'offset'], null, 'events[0].offset'],
      [['events', 0, 'session_id'], '../x', 'events[0].session_id'],
      [['events', 0], [1], 'events[0]'],
      [['events', 0], 'x', 'events[0]'],
      [['session', 'state'], 'exploded', 'session.state'],
      [['session', 'started_at'], '1', 'session.started_at'],
      [['session', 'project'], { a: 1 }, 'session.project'],
      [['channels'], {}, 'channels'],
      [['channels', 0, 'id'], '../../x', 'channels[0].id'],
      [['channels', 1, 'id'], 'display:1', 'channels[1].id'],
      [['annotations', 0, 'text'], 9, 'annotations[0].text'],
      [['media'], 'display-1/00000.mkv', 'media'],
      [['media', 0, 'channel'], 'mic:default', 'media[0].channel'],
      [['media', 0, 'seq'], -1, 'media[0].seq'],
      [['event_count'], 2, 'event_count'],
      [['event_count'], 4, 'event_count'],
      [['event_count'], '3', 'event_count'],
    ];
    const w = world();
    for (const form of ['json', 'jsonl'] as const) {
      for (const [where, value, field] of cases) {
        const err = refused(w, w.input(mutate(valid(), where, value), form));
        expect(err.data?.field, `${form} ${where.join('.')}`).toBe(field);
      }
    }
    // A duplicated media entry and a format that is not ours.
    const twice = valid();
    (twice.media as Json[]).push((twice.media as Json[])[0] as Json);
    expect(refused(w, w.input(twice)).data?.field).toBe('media[1].seq');
    expect(refused(w, w.input(mutate(valid(), ['format'], 'traced-recording/2'))).data?.field).toBe('file');
  });

  it('refuses duplicate seqs', () => {
    const w = world();
    const rec = valid(3);
    (rec.events as Doc[])[2] = event(1);
    expect(refused(w, w.input(rec)).data?.field).toBe('events[2].seq');
    expect(refused(w, w.input(rec, 'json')).data?.field).toBe('events[2].seq');
  });

  it('refuses data nested 2,000 and 100,000 levels deep, and takes 64', () => {
    const w = world();
    const nested = (levels: number) => `${'{"a":'.repeat(levels - 1)}{}${'}'.repeat(levels - 1)}`;
    for (const levels of [65, 2_000, 100_000]) {
      const meta = JSON.stringify({ ...valid(1), events: undefined });
      const line = JSON.stringify(event(1)).replace(/"data":\{.*\}\}$/, `"data":${nested(levels)}}`);
      expect(refused(w, w.input(`${meta}\n${line}\n`)).data?.field, `${levels}`).toBe('events[0].data');
      // The JSON form both ways: on one line, and with a first line that is not JSON by itself.
      expect(refused(w, w.input(`\n${meta.slice(0, -1)},"events":[${line}]}`, 'json')).data?.field, `json ${levels}`).toBe('events[0].data');
      expect(refused(w, w.input(`{\n${meta.slice(1, -1)},"events":[${line}]}`, 'json')).data?.field, `json ${levels}`).toBe('events[0].data');
    }
    // Arrays count as levels too, and depth in any other field is a plain type error.
    const arrays = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const meta = JSON.stringify({ ...valid(1), events: undefined });
    expect(refused(w, w.input(`${meta}\n${JSON.stringify(event(1)).replace(/"data":\{.*\}\}$/, `"data":{"x":${arrays}}}`)}\n`)).data?.field).toBe(
      'events[0].data',
    );
    expect(refused(w, w.input(`${meta}\n${JSON.stringify(event(1)).replace(/"type":"[^"]*"/, `"type":${arrays}`)}\n`)).data?.field).toBe('events[0].type');
    const ok = mutate(valid(1), ['events', 0, 'data'], JSON.parse(nested(64)) as Json);
    expect(attempt(w, w.input(ok)).result?.events).toBe(1);
  });

  it('says a non-recording file is not one and quotes none of it', () => {
    const w = world();
    const passwd = fs.existsSync('/etc/passwd') ? fs.readFileSync('/etc/passwd', 'utf8') : `root:x:0:0:root:/root:/bin/bash\n${MARK}:x:1:1::/:/bin/sh\n`;
    const garbage = [
      passwd,
      `${MARK}\n{"format":"${RECORDING_FORMAT}"}\n`,
      `{"${MARK}": [1, 2\n`,
      `[ "${MARK}" ]`,
      `{"format": "${MARK}"}\n`,
      `${JSON.stringify({ ...valid(1), events: undefined })}\n{"seq": 1, "${MARK}`,
      Buffer.from([0x7b, 0xff, 0xfe, 0x00, 0x0a, 0x80]).toString('latin1'),
      '   \n\n  \t\n',
    ];
    for (const text of garbage) {
      const err = refused(w, w.input(text));
      for (const line of text
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.length > 3))
        expect(err.message).not.toContain(line);
      expect(err.message).not.toContain(MARK);
    }
    expect(refused(w, w.input(passwd)).message).toMatch(/is not a traced recording \(not JSON\)$/);
  });

  it('refuses an empty file, a folder and a FIFO as the recording', () => {
    const w = world();
    expect(refused(w, w.input('')).data?.field).toBe('file');
    expect(refused(w, w.inputs).data?.field).toBe('file');
    const fifo = path.join(w.inputs, 'fifo');
    if (spawnSync('mkfifo', [fifo]).status === 0) expect(refused(w, fifo).data?.field).toBe('file');
  });

  it('imports a 300,000-event JSONL recording', () => {
    const w = world();
    const n = 300_000;
    const rec = valid(0);
    rec.event_count = n;
    const { events: _none, ...meta } = rec;
    const file = path.join(w.inputs, 'big.jsonl');
    const fd = fs.openSync(file, 'w');
    fs.writeSync(fd, `${JSON.stringify(meta)}\n`);
    let buf = '';
    for (let seq = 1; seq <= n; seq++) {
      buf += `${JSON.stringify(event(seq, { path: `src/mod${seq % 97}/file${seq}.ts`, kind: 'change', size: seq, lines: [seq, seq + 1] }))}\n`;
      if (buf.length > 1 << 20) {
        fs.writeSync(fd, buf);
        buf = '';
      }
    }
    fs.writeSync(fd, buf);
    fs.closeSync(fd);
    const t0 = performance.now();
    const rec2 = readRecording(file);
    const t1 = performance.now();
    const r = importRecording(w.store, rec2, { ...w.gates, sessionDir: w.sessionDir, mediaDir: w.mediaDir });
    const t2 = performance.now();
    console.log(
      `300k-event import: ${(fs.statSync(file).size / 1024 ** 2).toFixed(1)} MiB, read+check ${((t1 - t0) / 1000).toFixed(2)} s, import ${((t2 - t1) / 1000).toFixed(2)} s, total ${((t2 - t0) / 1000).toFixed(2)} s`,
    );
    expect(r).toEqual({ session_id: ID, events: n, media: 1 });
    expect(w.store.db.prepare('SELECT COUNT(*) AS n FROM events WHERE session_id = ?').get(ID)).toEqual({ n });
  }, 300_000);
});

describe('importing recordings with one field replaced by arbitrary JSON', () => {
  /** A small seeded PRNG (mulberry32): failures replay from the printed seed. */
  function rng(seed: number) {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  const hostileStrings = [
    '',
    '../../escape',
    '../../../planted/x',
    '/etc/passwd',
    'a\\b',
    'a\0b',
    `${MARK}`,
    `${MARK}/../x`,
    '20250101-120000-abcd',
    '20991231-235959-zzzz',
    'display-1/00000.mkv',
    'display:1',
    'file.changed',
    '__proto__',
    'constructor',
    'x'.repeat(70_000),
    '\u202e\ud800',
    ' ',
    'Ω',
  ];
  const hostileNumbers = [0, -1, 1, 1.5, -0, 1e308, -1e308, 2 ** 53, 2 ** 53 + 2, 2 ** 31, Number.MIN_VALUE];

  function arbitrary(r: () => number, depth = 0): Json {
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
    const k = Math.floor(r() * (depth > 3 ? 4 : 7));
    if (k === 0) return null;
    if (k === 1) return r() < 0.5;
    if (k === 2) return pick(hostileNumbers);
    if (k === 3) return r() < 0.7 ? pick(hostileStrings) : `${MARK}-${Math.floor(r() * 1e9).toString(36)}`;
    if (k === 4) return Array.from({ length: Math.floor(r() * 4) }, () => arbitrary(r, depth + 1));
    if (k === 5)
      return Object.fromEntries(
        Array.from({ length: Math.floor(r() * 4) }, () => [r() < 0.3 ? pick(hostileStrings) : `k${Math.floor(r() * 9)}`, arbitrary(r, depth + 1)]),
      );
    // Deep nesting, as objects or arrays.
    let v: Json = MARK;
    const levels = pick([10, 63, 64, 65, 500, 1_500]); // deeper: the dedicated test (JSON.stringify here would overflow first)
    for (let i = 0; i < levels; i++) v = r() < 0.5 ? [v] : { [MARK]: v };
    return v;
  }

  /** Every place in a recording a value sits, inner nodes included. */
  function places(v: Json, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
    if (at.length > 0) out.push(at);
    if (Array.isArray(v)) for (const [i, x] of v.entries()) places(x, [...at, i], out);
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) places(x, [...at, k], out);
    return out;
  }

  it('gives a result or IMPORT_INVALID, never another error or a write outside home', () => {
    const seed = Number(process.env.TRACED_FUZZ_SEED ?? Date.now() % 1e9);
    const runs = Number(process.env.TRACED_FUZZ_RUNS ?? 400);
    const r = rng(seed);
    const w = world();
    const base = valid(3);
    (base.events as Doc[])[1] = event(2, { nested: { list: [1, 'two', { three: 3 }] }, path: 'src/b.ts' });
    const where = places(base);
    let imported = 0;
    for (let i = 0; i < runs; i++) {
      const p = where[Math.floor(r() * where.length)] as (string | number)[];
      const rec = mutate(base, p, r() < 0.1 ? undefined : arbitrary(r));
      const form = r() < 0.5 ? 'json' : 'jsonl';
      const label = `seed ${seed} run ${i}: ${p.join('.')} (${form})`;
      let outcome: ReturnType<typeof attempt>;
      try {
        outcome = attempt(w, w.input(rec, form));
      } catch (err) {
        throw new Error(`${label}: ${(err as Error).message}`, { cause: err });
      }
      if (outcome.error) expect(outcome.error.message, label).not.toContain(MARK);
      if (outcome.result) {
        imported++;
        // Clear the way for the next run that keeps a valid id.
        w.store.db.prepare('DELETE FROM sessions WHERE id = ?').run(outcome.result.session_id);
        fs.rmSync(w.sessionDir(outcome.result.session_id), { recursive: true, force: true });
      }
    }
    console.log(`fuzz: seed ${seed}, ${runs} runs, ${imported} imported, ${runs - imported} refused with IMPORT_INVALID`);
  }, 300_000);
});
