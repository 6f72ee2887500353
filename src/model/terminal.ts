/** Terminal output shapes: a command's output, a terminal screen at a moment, the command a search hit belongs to. */
import { z } from 'zod';
import { SessionRef } from './base.js';
import { MAX_OFFSET_MS, MAX_TS, MaxBytes } from './operations.js';
import { TerminalCommandRef } from './terminal-ref.js';

const Moment = z
  .union([z.number().int().min(0).max(MAX_TS), z.string().min(1).max(64)])
  .describe('A moment: "+90s", "+1:30" or ms from the session start; "14:32" on the session\'s day; ISO 8601; epoch ms.');

export { TerminalCommandRef } from './terminal-ref.js';

export const GetTerminalOutputInput = z
  .object({
    session: SessionRef,
    command_seq: z.number().int().positive().optional().describe('The terminal.command event (its seq) whose output you want.'),
    at: Moment.optional().describe(
      'The command running at this moment ("+90s", "+1:30" or ms from the session start; "14:32"; ISO 8601; epoch ms). With no command there, the output around it.',
    ),
    from_ms: z.number().int().min(0).max(MAX_OFFSET_MS).optional().describe('Start of a time range instead of a command, ms from the session start.'),
    to_ms: z.number().int().min(0).max(MAX_OFFSET_MS).optional().describe('End of the time range (inclusive), ms from the session start.'),
    after_seq: z.number().int().min(0).optional().describe('Continue after this seq (paging: pass the previous next_after_seq).'),
    after_char: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .optional()
      .describe('With after_seq: that chunk was cut; continue inside it from this character (paging: pass the previous next_after_char).'),
    max_bytes: MaxBytes,
  })
  .describe('Which output: one command (command_seq, or at), or a time range (from_ms/to_ms); with none of them, the whole session.');
export type GetTerminalOutputInput = z.infer<typeof GetTerminalOutputInput>;

export const TerminalChunk = z.object({
  seq: z.number().int(),
  offset_ms: z.number().int().describe('When the first of these lines was printed (each line within a second of it).'),
  at: z.string().describe('The same moment as a wall-clock time.'),
  stream: z.string().describe('Which recorded shell printed it.'),
  text: z.string().describe('The lines printed, escape sequences removed, secrets redacted.'),
  from_char: z.number().int().optional().describe('Present when this is the rest of a chunk cut on the previous page: where in the chunk it starts.'),
});
export const GetTerminalOutputOutput = z.object({
  session_id: z.string(),
  command: TerminalCommandRef.nullable().describe('The command whose output this is, when one was asked for or found.'),
  from_ms: z.number().int(),
  to_ms: z.number().int().nullable(),
  chunks: z.array(TerminalChunk),
  dropped: z
    .array(z.object({ offset_ms: z.number().int(), stream: z.string(), max_bytes: z.number().int().nullable() }))
    .describe('Where output was not kept because the session reached its terminal output cap.'),
  next_after_seq: z.number().int().nullable().describe('Pass as after_seq for the next page; null when there is no more.'),
  next_after_char: z
    .number()
    .int()
    .nullable()
    .optional()
    .describe('Set when one chunk alone was larger than max_bytes and was cut: pass as after_char (with after_seq) for the rest of it.'),
});
export type GetTerminalOutputOutput = z.input<typeof GetTerminalOutputOutput>;

/** The terminal screen at a moment, rebuilt by a headless terminal emulator from the recorded output. */
export const TerminalScreen = z.object({
  stream: z.string(),
  offset_ms: z.number().int().describe('The last output at or before the moment (the screen as it stood then).'),
  cols: z.number().int(),
  rows: z.number().int(),
  lines: z.array(z.string()).describe('The visible screen, top to bottom, trailing blanks trimmed.'),
  cursor: z.object({ x: z.number().int(), y: z.number().int() }),
  alternate: z.boolean().describe('A full-screen program (vim, less, top) had the screen.'),
  command: TerminalCommandRef.nullable().describe('The command running then, when the shell hook reported it.'),
});
export type TerminalScreen = z.infer<typeof TerminalScreen>;
