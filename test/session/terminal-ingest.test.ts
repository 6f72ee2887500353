/**
 * Terminal output from the session folder into the store and back out: the
 * daemon's ingest (no line twice across a restart, markers as events), the
 * get_terminal_output pages (every chunk exactly once, within the budget),
 * screens at a moment (the same with and without keyframes), and cast files
 * a hostile hand wrote.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findOperation, invoke } from '../../src/api/index.js';
import { ShellOutput } from '../../src/capture/shell-output.js';
import type { GetTerminalOutputOutput } from '../../src/model.js';
import { redact } from '../../src/timeline/redact.js';
import { TerminalScreens } from '../../src/timeline/terminal-screen.js';
import { castPath } from '../../src/timeline/terminal-cast.js';
import { testServices } from '../helpers/services.js';

async function session() {
  const s = testServices();
  const r = await s.recorder.start({ project: s.home, channels: [] } as never);
  const id = (r as { session: { id: string; started_at: number } }).session.id;
  const row = s.store.getSession(id);
  return { s, id, startedAt: row?.started_at ?? 0 };
}

describe('terminal output ingest and reads', () => {
  it('stores each printed line once, across passes and a restarted daemon, with markers as events', async () => {
    const { s, id, startedAt } = await session();
    let clock = startedAt + 1000;
    const w = new ShellOutput({
      sessionsDir: s.paths.sessionsDir,
      sessionId: id,
      sessionStartedAt: startedAt,
      stream: '1-a',
      cols: 80,
      rows: 24,
      command: 'bash',
      redact,
      now: () => clock,
      maxBytes: 1 << 30,
    });
    for (let i = 0; i < 300; i++) {
      clock += 37;
      w.write(`line-${i} ${'x'.repeat(i % 50)}\r\n`);
      if (i % 40 === 0) (w as unknown as { writeReady(): void }).writeReady();
      if (i === 150) s.terminal.tick(id);
    }
    w.close({ code: 1 });
    s.terminal.tick(id);
    // A restarted daemon reads the same folder again: nothing is stored twice.
    s.rebuild().terminal.ingest(id);
    const out = s.store.events({ sessionId: id, types: ['terminal.output'], limit: 10_000 });
    const lines = out.flatMap((e) => String(e.data.text).split('\n'));
    expect(lines.filter((l) => l.startsWith('line-'))).toEqual(Array.from({ length: 300 }, (_, i) => `line-${i} ${'x'.repeat(i % 50)}`.trimEnd()));
    for (const e of out) expect(e.channel).toBe('terminal');
    // Each event's lines were printed within a second of its time.
    const exit = s.store.events({ sessionId: id, types: ['terminal.exit'], limit: 10 });
    expect(exit).toHaveLength(1);
    expect(exit[0]?.data.exit_code).toBe(1);
    await s.recorder.stop();
  });

  it("pages a session's output within max_bytes, every chunk exactly once", async () => {
    const { s, id, startedAt } = await session();
    let clock = startedAt;
    const w = new ShellOutput({
      sessionsDir: s.paths.sessionsDir,
      sessionId: id,
      sessionStartedAt: startedAt,
      stream: '1-b',
      cols: 80,
      rows: 24,
      command: 'bash',
      redact,
      now: () => clock,
      maxBytes: 1 << 30,
    });
    for (let i = 0; i < 2000; i++) {
      clock += 20;
      w.write(`row ${i} ${'y'.repeat(60)}\n`);
      if (i % 25 === 0) (w as unknown as { writeReady(): void }).writeReady();
    }
    w.close({ code: 0 });
    s.terminal.ingest(id);
    const all = s.store.events({ sessionId: id, types: ['terminal.output'], limit: 100_000 }).map((e) => e.seq);
    const seen: number[] = [];
    let after: number | undefined;
    for (let pages = 0; pages < 1000; pages++) {
      const page = s.services.terminal.get({ sessionId: id, afterSeq: after, maxBytes: 5000 });
      expect(Buffer.byteLength(JSON.stringify(page))).toBeLessThanOrEqual(5000 + 2000);
      seen.push(...page.chunks.map((c) => c.seq));
      if (page.next_after_seq === null) break;
      after = page.next_after_seq;
    }
    expect(seen).toEqual(all);
    await s.recorder.stop();
  });

  it('a chunk larger than a tiny max_bytes comes in parts, each reply within the budget, every character once', async () => {
    const { s, id, startedAt } = await session();
    let clock = startedAt;
    const w = new ShellOutput({
      sessionsDir: s.paths.sessionsDir,
      sessionId: id,
      sessionStartedAt: startedAt,
      stream: '1-e',
      cols: 80,
      rows: 24,
      command: 'bash',
      redact,
      now: () => clock,
      maxBytes: 1 << 30,
    });
    // Long lines of escapes-to-be ("quotes", backslashes), multibyte text and emoji (surrogate pairs).
    for (let i = 0; i < 40; i++) {
      clock += 30;
      w.write(`${i} ${'"\\ é漢😀 '.repeat(200 + i * 7)}\n`);
      if (i % 10 === 9) (w as unknown as { writeReady(): void }).writeReady();
    }
    w.close({ code: 0 });
    s.terminal.ingest(id);
    const want = s.store.events({ sessionId: id, types: ['terminal.output'], limit: 100_000 }).map((e) => [e.seq, String(e.data.text)]);
    for (const budget of [1000, 1777, 6000]) {
      const got = new Map<number, string>();
      let after: number | undefined;
      let char: number | undefined;
      let pages = 0;
      for (; pages < 10_000; pages++) {
        // Through the operation, as MCP and IPC callers get it (the wall-clock `at` fields added).
        const params = { session: id, max_bytes: budget, ...(after ? { after_seq: after } : {}), ...(char ? { after_char: char } : {}) };
        const page = (await invoke(findOperation('get_terminal_output') as never, params, s.services)) as GetTerminalOutputOutput;
        expect(Buffer.byteLength(JSON.stringify(page))).toBeLessThanOrEqual(budget);
        for (const c of page.chunks) {
          expect(c.from_char ?? 0).toBe((got.get(c.seq) ?? '').length);
          got.set(c.seq, (got.get(c.seq) ?? '') + c.text);
        }
        if (page.next_after_seq === null) break;
        after = page.next_after_seq;
        char = page.next_after_char ?? undefined;
      }
      expect([...got.entries()]).toEqual(want);
      expect(pages).toBeGreaterThan(want.length);
    }
    await s.recorder.stop();
  });

  it('gives the same screen from a keyframe as from the start, and survives hostile cast files', async () => {
    const { s, id, startedAt } = await session();
    let clock = startedAt;
    const w = new ShellOutput({
      sessionsDir: s.paths.sessionsDir,
      sessionId: id,
      sessionStartedAt: startedAt,
      stream: '1-c',
      cols: 40,
      rows: 10,
      command: 'bash',
      redact,
      now: () => clock,
      maxBytes: 1 << 30,
    });
    for (let i = 0; i < 40_000; i++) {
      clock += 5;
      w.write(`\x1b[3${i % 8}mscreen line ${i}\x1b[0m\r\n`);
      if (i === 30_000) w.resize(50, 12);
      if (i % 100 === 0) (w as unknown as { writeReady(): void }).writeReady();
    }
    w.write('\x1b[?1049h\x1b[Hfull screen app\r\n');
    w.close({ code: 0 });
    const at = 35_000 * 5 + 1;
    const warm = new TerminalScreens(s.paths.sessionsDir);
    await warm.at(id, 200_000 * 5); // one pass to the end leaves keyframes behind
    const fromKey = await warm.at(id, at);
    const cold = await new TerminalScreens(s.paths.sessionsDir).at(id, at);
    expect(fromKey).toEqual(cold);
    expect(cold?.cols).toBe(50);
    expect(cold?.lines.join('\n')).toMatch(/screen line 349\d\d/);
    const end = await warm.at(id, 10_000_000);
    expect(end?.alternate).toBe(true);
    expect(end?.lines[0]).toBe('full screen app');
    // A hand-written file: absurd sizes, torn and hostile lines, a symlink beside it.
    const bad = castPath(s.paths.sessionsDir, id, '9-bad');
    fs.writeFileSync(
      bad,
      `${JSON.stringify({ version: 2, width: 1e9, height: -4, traced: { stream: '9-bad' } })}\n[1e308,"o","x"]\n[-1,"o","neg"]\n["a","o","b"]\n{"__proto__":{"x":1}}\n[0.5,"o","ok\\r\\n"]\n[0.6,"r","99999x99999"]\n[0.7,"o","tor`,
    );
    fs.symlinkSync('/etc/passwd', path.join(path.dirname(bad), '9-link.cast'));
    const screen = await new TerminalScreens(s.paths.sessionsDir).at(id, 600);
    expect(screen?.stream === '9-bad' ? screen.cols : 80).toBe(80);
    expect(() => s.terminal.ingest(id)).not.toThrow();
    await s.recorder.stop();
  });

  it('a JSONL recording carries the output and an import restores it (search and get_terminal_output work on the copy)', async () => {
    const { s, id, startedAt } = await session();
    const w = new ShellOutput({
      sessionsDir: s.paths.sessionsDir,
      sessionId: id,
      sessionStartedAt: startedAt,
      stream: '1-d',
      cols: 80,
      rows: 24,
      command: 'bash',
      redact,
      now: () => startedAt + 500,
      maxBytes: 1 << 30,
    });
    w.write('Error: cannot find module zorblax\r\n');
    w.close({ code: 1 });
    s.terminal.ingest(id);
    await s.recorder.stop();
    for (const target of ['json', 'jsonl'] as const) {
      const out = await s.exporter.export(id, { target } as never);
      // A recording from elsewhere need not carry the ingest's read positions (end_byte).
      if (target === 'jsonl') fs.writeFileSync(out.file as string, fs.readFileSync(out.file as string, 'utf8').replace(/,?\\?"end_byte\\?":\d+/g, ''));
      const r = s.exporter.import({ file: out.file as string, as_new: true });
      expect(r.session_id).not.toBe(id);
      const page = s.services.terminal.get({ sessionId: r.session_id, maxBytes: 40_000 });
      expect(page.chunks.map((c) => c.text).join('\n')).toContain('Error: cannot find module zorblax');
      const { hits } = await s.services.search.run({ query: 'zorblax', limit: 10, max_bytes: 40_000, order: 'first' } as never, r.session_id);
      expect(hits.some((h) => h.channel === 'terminal' && h.type === 'terminal.output')).toBe(true);
      // The copy's terminal screen and asciicast come from cast files rebuilt from the output text.
      const screen = await s.services.terminal.screenAt(r.session_id, 600);
      expect(screen?.lines.join('\n')).toContain('Error: cannot find module zorblax');
      const cast = await s.exporter.export(r.session_id, { target: 'asciicast' } as never);
      expect(fs.readFileSync(cast.file as string, 'utf8')).toContain('zorblax');
      // The daemon's ingest does not read the rebuilt casts again: no event twice.
      const before = s.store.events({ sessionId: r.session_id, limit: 10_000 }).length;
      s.terminal.ingest(r.session_id);
      s.rebuild().terminal.ingest(r.session_id);
      expect(s.store.events({ sessionId: r.session_id, limit: 10_000 })).toHaveLength(before);
    }
  });

  it('a terminal folder that is a symlink is neither written through nor read through', async () => {
    const { s, id, startedAt } = await session();
    const outside = fs.mkdtempSync(path.join(path.dirname(s.home), 'outside-'));
    try {
      fs.writeFileSync(path.join(outside, '1-z.cast'), `${JSON.stringify({ version: 2, width: 80, height: 24 })}\n[0.1,"o","outside-secret-line\\r\\n"]\n`);
      fs.mkdirSync(path.join(s.paths.sessionsDir, id), { recursive: true });
      fs.symlinkSync(outside, path.join(s.paths.sessionsDir, id, 'terminal'));
      const open = () =>
        new ShellOutput({
          sessionsDir: s.paths.sessionsDir,
          sessionId: id,
          sessionStartedAt: startedAt,
          stream: '1-y',
          cols: 80,
          rows: 24,
          command: 'bash',
          redact,
          now: () => startedAt,
          maxBytes: 1 << 30,
        });
      expect(open).toThrow(/not a plain directory/);
      expect(fs.readdirSync(outside)).toEqual(['1-z.cast']);
      expect(s.terminal.ingest(id)).toBe(0);
      expect(s.store.events({ sessionId: id, types: ['terminal.output'], limit: 10 })).toEqual([]);
      // The session folder itself a symlink (to a folder holding a terminal/ of its own): not read, not written.
      await s.recorder.stop();
      fs.rmSync(path.join(s.paths.sessionsDir, id), { recursive: true, force: true });
      const outside2 = fs.mkdtempSync(path.join(path.dirname(s.home), 'outside-'));
      fs.mkdirSync(path.join(outside2, 'terminal'));
      fs.copyFileSync(path.join(outside, '1-z.cast'), path.join(outside2, 'terminal', '1-z.cast'));
      fs.symlinkSync(outside2, path.join(s.paths.sessionsDir, id));
      expect(open).toThrow(/not a plain directory/);
      expect(s.rebuild().terminal.ingest(id)).toBe(0);
      expect(fs.readdirSync(path.join(outside2, 'terminal'))).toEqual(['1-z.cast']);
      fs.rmSync(outside2, { recursive: true, force: true });
      fs.rmSync(path.join(s.paths.sessionsDir, id));
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });
});
