/**
 * The cheap OCR path. Which frames are read is decided from thumbnails alone
 * (planReads): checked as a property over random screens — every change is
 * read by the segment's end, each read covers the rows that moved since the
 * last one, and what is read stays within the budget of screen heights.
 * One tesseract process reads a segment's images from a list file: checked
 * against real tesseract reading each image alone. The CPU meter charges a
 * real child's CPU, as the child itself reports it, to the right stage.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { run } from '../../src/capture/proc.js';
import { CpuMeter } from '../../src/index/cost.js';
import { THUMB_H, THUMB_W } from '../../src/index/frames.js';
import { changedRows, TesseractCli } from '../../src/index/ocr.js';
import { OCR_BUDGET, planReads } from '../../src/index/screen-text.js';
import { tempDir } from '../helpers/env.js';

const missing = ['ffmpeg', 'tesseract', 'bash'].filter((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0);
if (missing.length && process.env.CI === 'true') throw new Error(`CI: missing ${missing.join(', ')}`);
if (missing.length) console.warn(`SKIPPED ocr cost: needs ${missing.join(', ')}`);

const SIZE = THUMB_W * THUMB_H;
/** A PGM as big as a thumbnail (the planner crops and inverts it; its size does not matter). */
const pgm = (px: Uint8Array) => Buffer.concat([Buffer.from(`P5\n${THUMB_W} ${THUMB_H}\n255\n`), Buffer.from(px)]);

/** Frames at 2 fps; each either repeats the last or repaints rows [from, from+h) with a new grey. */
const screens = fc.array(
  fc.option(fc.record({ from: fc.integer({ min: 0, max: THUMB_H - 1 }), h: fc.integer({ min: 1, max: THUMB_H }), v: fc.integer({ min: 0, max: 255 }) }), {
    nil: undefined,
  }),
  {
    minLength: 10,
    maxLength: 240,
  },
);

function build(changes: ({ from: number; h: number; v: number } | undefined)[], dir: string, every: number) {
  let px = new Uint8Array(SIZE).fill(200);
  const frames = changes.map((c, i) => {
    if (c) {
      px = new Uint8Array(px);
      for (let y = c.from; y < Math.min(THUMB_H, c.from + c.h); y++) px.fill(c.v, y * THUMB_W, (y + 1) * THUMB_W);
    }
    return { at: i * 500, px };
  });
  const reads = frames.flatMap((f, i) => {
    if (i % every !== 0) return [];
    const file = path.join(dir, `f_${i}.pgm`);
    fs.writeFileSync(file, pgm(f.px));
    return [{ file, ptsMs: f.at, thumb: i }];
  });
  return { frames, reads };
}

describe('planReads: which frames are read, from thumbnails alone', () => {
  it('reads every change by the segment end, covers what moved, and stays within the budget', () => {
    let n = 0;
    fc.assert(
      fc.property(screens, fc.integer({ min: 1, max: 12 }), fc.boolean(), (changes, every, withPrior) => {
        const dir = tempDir('plan-');
        try {
          const { frames, reads } = build(changes, dir, every);
          const first = new Uint8Array(SIZE).fill(200);
          const prior = withPrior ? { last: first } : undefined;
          const p = planReads(reads, frames, 0, 0, prior, { duplicateThreshold: 3 });
          // Each read's band holds every row that moved since the frame read before it.
          for (const r of p.reads) {
            const moved = r.before ? changedRows(r.before, r.px, 3) : { from: 0, to: 1 };
            expect(moved).toBeDefined();
            expect(r.region.from).toBeLessThanOrEqual((moved as { from: number }).from);
            expect(r.region.to).toBeGreaterThanOrEqual((moved as { to: number }).to);
          }
          // Nothing waits past the segment: the last sampled frame is what was read last (or nothing moved).
          const lastSampled = frames[(reads[reads.length - 1] as { thumb: number }).thumb]?.px as Uint8Array;
          const start = prior?.last;
          if (!start || changedRows(start, lastSampled, 3)) expect(p.last && changedRows(p.last, lastSampled, 3)).toBeFalsy();
          // Screen heights read: at most the burst, the refill over the time spanned, and the last frame's debt.
          const spent = p.reads.reduce((a, r) => a + (r.partial ? r.region.to - r.region.from : 1), 0);
          const minutes = ((reads[reads.length - 1]?.ptsMs ?? 0) - (reads[0]?.ptsMs ?? 0)) / 60_000;
          expect(spent).toBeLessThanOrEqual(OCR_BUDGET.burst + OCR_BUDGET.screensPerMinute * minutes + 1 + 1e-9);
          n += p.deferred;
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 60 },
    );
    expect(n, 'some screens changed more than the budget pays for').toBeGreaterThan(0);
  });

  it('a line or two changing at every interval is read at every interval; a whole screen changing is read at the budget', () => {
    const dir = tempDir('plan-');
    const line = Array.from({ length: 240 }, (_, i) => (i % 4 === 0 ? { from: 30, h: 2, v: i % 250 } : undefined));
    const a = build(line, dir, 10);
    const small = planReads(a.reads, a.frames, 0, 0, { last: new Uint8Array(SIZE).fill(200) }, { duplicateThreshold: 3 });
    expect(small.deferred).toBe(0);
    expect(small.reads.length).toBe(a.reads.length);
    const whole = Array.from({ length: 240 }, (_, i) => (i % 2 === 0 ? { from: 0, h: THUMB_H, v: (i * 7) % 250 } : undefined));
    const b = build(whole, dir, 10);
    const big = planReads(b.reads, b.frames, 0, 0, undefined, { duplicateThreshold: 3 });
    // Two minutes: the burst of 2, 3 a minute, and the last frame.
    expect(big.reads.length).toBeLessThanOrEqual(OCR_BUDGET.burst + OCR_BUDGET.screensPerMinute * 2 + 1);
    expect(big.reads.length).toBeGreaterThanOrEqual(OCR_BUDGET.screensPerMinute * 2);
    expect(big.deferred).toBe(b.reads.length - big.reads.length);
  });
});

describe.skipIf(missing.length > 0)('one tesseract run for many images', () => {
  it('reads a list of images as it reads each alone, in order, an empty one included', async () => {
    const dir = tempDir('ocrmany-');
    const texts = ['error TS2345 in cache', '', 'invalidate the store 42', 'git commit -m fix'];
    const files = texts.map((t, i) => {
      const f = path.join(dir, `i${i}.pgm`);
      const draw = t ? `,drawtext=text='${t}':fontcolor=black:fontsize=32:x=20:y=30:font=Monospace` : '';
      execFileSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `color=c=white:s=900x110${draw}`, '-frames:v', '1', '-pix_fmt', 'gray', f]);
      return f;
    });
    const cli = new TesseractCli();
    const many = await cli.recognizeMany(files);
    const alone = await Promise.all(files.map((f) => cli.recognize(f)));
    expect(many.map((r) => r.text)).toEqual(alone.map((r) => r.text));
    expect(many[1]?.text).toBe('');
    expect(many[0]?.text).toContain('TS2345');
    expect(many[3]?.text).toContain('commit');
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.txt'))).toEqual([]);
  }, 60_000);
});

describe.skipIf(missing.length > 0)('the CPU meter', () => {
  it('charges a helper’s CPU, as the helper itself reports it, to its stage', async () => {
    const meter = new CpuMeter();
    // bash reports its own user+system time (`times`, first line) after burning some.
    const r = await meter.child('ocr', () => run('bash', ['-c', 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; times'], { timeoutMs: 60_000 }));
    const m = /^(\d+)m([\d.]+)s (\d+)m([\d.]+)s/.exec(r.stdout) as RegExpExecArray;
    const own = (Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])) * 1000;
    expect(own).toBeGreaterThan(100);
    expect(Math.abs(meter.ms.ocr - own), `meter ${meter.ms.ocr} ms, bash says ${own} ms`).toBeLessThanOrEqual(30 + own * 0.1);
    expect(meter.ms.frame_decode + meter.ms.speech).toBe(0);
    // Work in this process: a synchronous loop.
    const x = meter.self('change_detection', () => {
      let s = 0;
      const c0 = process.cpuUsage();
      for (let d = process.cpuUsage(c0); d.user + d.system < 100_000; d = process.cpuUsage(c0)) for (let i = 0; i < 1e5; i++) s += Math.sqrt(s + 1);
      return s;
    });
    expect(x).toBeGreaterThan(0);
    expect(meter.ms.change_detection).toBeGreaterThanOrEqual(100);
    expect(meter.ms.change_detection).toBeLessThan(1000);
    expect(meter.snapshot().cpu_ms.ocr).toBe(Math.round(meter.ms.ocr));
  }, 60_000);
});
