/**
 * Which parts of a display segment's frames are read, and the screen.text
 * events made of what was read: the OCR path of the indexer, apart from the
 * processes it runs (indexer.ts) so each piece can be tested on its own.
 */
import fs from 'node:fs';
import type { EventData } from '../model.js';
import { redactPieces, redactRecognized } from '../timeline/redact.js';
import { firstSeen, lineRows, meanOf, type SampledFrames, sameRows, THUMB_H } from './frames.js';
import { changedRows, cropRows, invert, type OcrResult, readPgm } from './ocr.js';

/** An event the indexer writes for a segment. */
export interface IndexedEvent {
  channel: string;
  type: string;
  offset_ms: number;
  data: EventData;
}

/**
 * Screen heights of reading a minute of recording may pay for, and how many may be saved up.
 * 12 screen heights a minute (one full read per 5 s, the rate before budgets): a terminal that scrolls changes
 * whole at every command, and at 3 a minute its output was dated at the next read, 20-30 s late (the scripted
 * session of issue 15 missed three first appearances). Continuous change (video) is what the budget still caps.
 */
export const OCR_BUDGET = { screensPerMinute: 12, burst: 6 };

/**
 * The frames worth reading and the band of each, from the thumbnails alone. A frame is read when
 * its thumbnail moved since the last frame read; only the band that moved is read when it is under
 * half the screen. What is read is paid from a budget of screen heights that refills with recording
 * time (`OCR_BUDGET`): a line or two changing (a terminal's new output) costs a few hundredths and
 * is read at every interval; a screen that changes whole all the time (scrolling, video) is read at
 * most `screensPerMinute` times a minute. A change left unread is not lost: the next frame read is
 * compared with the last one read, so its band covers it, and the segment's last sampled frame is
 * always read when anything moved, so nothing waits past its segment.
 */
export function planReads(
  reads: SampledFrames['reads'],
  frames: readonly { at: number; px: Uint8Array }[],
  carried: number,
  segStart: number,
  prior: { last: Uint8Array | undefined; budget?: { tokens: number; at: number } } | undefined,
  o: { duplicateThreshold: number; ocrBudget?: { screensPerMinute: number; burst: number } },
): { reads: PlannedRead[]; last: Uint8Array | undefined; budget: { tokens: number; at: number }; skipped: number; deferred: number; cropped: number } {
  const rate = o.ocrBudget ?? OCR_BUDGET;
  let last = prior?.last;
  const budget = { ...(prior?.budget ?? { tokens: rate.burst, at: segStart + (reads[0]?.ptsMs ?? 0) }) };
  const out: PlannedRead[] = [];
  let skipped = 0;
  let deferred = 0;
  let cropped = 0;
  for (const [k, rd] of reads.entries()) {
    const idx = carried + rd.thumb;
    const px = frames[idx]?.px;
    if (!px) continue;
    const readAt = segStart + rd.ptsMs;
    budget.tokens = Math.min(rate.burst, budget.tokens + (Math.max(0, readAt - budget.at) / 60_000) * rate.screensPerMinute);
    budget.at = readAt;
    const before = last;
    const region = before ? changedRows(before, px, o.duplicateThreshold) : { from: 0, to: 1 };
    if (!region) {
      skipped++;
      continue;
    }
    const partial = region.to - region.from < 0.5;
    const cost = partial ? region.to - region.from : 1;
    if (cost > budget.tokens && k < reads.length - 1) {
      deferred++;
      continue;
    }
    budget.tokens -= cost; // the segment's last frame may go into debt: the next ones wait for it
    last = px;
    const frame = readPgm(fs.readFileSync(rd.file));
    // Only the rows that changed are read when the change is small: the text that just appeared is
    // what search needs at this moment, and a dense screen costs ~2 s a frame to read whole.
    const toRead = partial ? cropRows(frame, region.from, region.to) : frame;
    const dark = meanOf(px) < 110;
    if (dark) invert(toRead);
    if (partial || dark) fs.writeFileSync(rd.file, toRead.buf);
    if (partial) cropped++;
    out.push({ k, file: rd.file, idx, px, before, region, partial, dark, height: frame.height, readAt });
  }
  return { reads: out, last, budget, skipped, deferred, cropped };
}

export interface PlannedRead {
  /** Index in the sampled reads, and of its thumbnail in the frames. */
  k: number;
  file: string;
  idx: number;
  px: Uint8Array;
  /** The thumbnail of the frame read before it, if any. */
  before: Uint8Array | undefined;
  region: { from: number; to: number };
  partial: boolean;
  dark: boolean;
  /** Height of the whole frame (the crop's rows are offsets into it). */
  height: number;
  readAt: number;
}

/** The screen.text events of one frame read: its lines grouped by the first frame each was on. */
export function screenTextEvents(
  channel: string,
  engine: string,
  p: PlannedRead,
  res: OcrResult,
  frames: readonly { at: number; px: Uint8Array }[],
  nextRead: number,
  threshold: number,
): IndexedEvent[] {
  const text = redactRecognized(res.text);
  const { region, partial, before, px, idx } = p;
  // Each line is dated to the first frame its rows looked as they do in the frame read (the frame it
  // appeared in, at 2 fps within half a second); lines that appeared together are one event.
  const cropTop = partial ? Math.floor(region.from * p.height) : 0;
  const byFirst = new Map<number, { text: string; conf: number }[]>();
  const whole = firstSeen(frames, idx, Math.floor(region.from * THUMB_H), Math.ceil(region.to * THUMB_H) - 1, threshold);
  for (const l of res.lines) {
    const rows = l.top === undefined || l.bottom === undefined ? undefined : lineRows(cropTop + l.top, cropTop + l.bottom, p.height);
    // A line whose rows did not change since the last frame read was read then (a whole-screen read
    // around a change elsewhere): it is not new here.
    if (rows && before && sameRows(before, px, rows[0], rows[1], threshold)) continue;
    const first = rows ? firstSeen(frames, idx, rows[0], rows[1], threshold) : whole;
    const g = byFirst.get(first) ?? [];
    g.push({ text: redactPieces(text, l.text), conf: l.conf });
    byFirst.set(first, g);
  }
  return [...byFirst.entries()]
    .sort((x, y) => x[0] - y[0])
    .map(([first, lines]) => {
      const at = (frames[first] as { at: number }).at;
      const words = lines.reduce((n, l) => n + l.text.split(/\s+/).filter(Boolean).length, 0);
      return {
        channel,
        type: 'screen.text',
        offset_ms: at,
        data: {
          display: channel,
          text: lines.map((l) => l.text).join('\n'),
          confidence: Math.round(lines.reduce((a, l) => a + l.conf, 0) / lines.length),
          words,
          lines,
          // On screen from offset_ms (its first frame) at least until the next frame read.
          duration_ms: Math.max(0, nextRead - at),
          // The frame that was read: the text is on it; offset_ms is where it first was.
          frame_offset_ms: p.readAt,
          inverted: p.dark,
          engine,
          // partial: only the changed band of the screen (fractions of its height) was read.
          ...(partial ? { region: { from: Math.round(region.from * 1000) / 1000, to: Math.round(region.to * 1000) / 1000 } } : {}),
        },
      };
    });
}
