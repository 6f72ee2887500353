/** The command a piece of terminal output belongs to (apart from model/terminal.ts so search hits can name it without an import cycle). */
import { z } from 'zod';

/** A command the shell hook reported, as output is linked to it. */
export const TerminalCommandRef = z.object({
  seq: z.number().int().describe('The terminal.command event.'),
  offset_ms: z.number().int(),
  command: z.string(),
  exit_code: z.number().int().nullable(),
  duration_ms: z.number().int().nullable(),
});
export type TerminalCommandRef = z.infer<typeof TerminalCommandRef>;
