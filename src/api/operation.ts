/**
 * An operation is data plus a function, defined once. MCP, IPC and the CLI
 * loop over the list; none of them has a branch per operation.
 */
import type { z } from 'zod';
import { ErrorCodes, TracedError, toTracedError } from '../errors.js';
import type { CaptureEnv } from '../model/capture-env.js';
import { addWallClock, withWallClock } from './clock.js';
import { invalidParams } from './invalid.js';
import type { Services } from './services.js';

export interface OperationContext {
  /** The caller's working directory: relative paths in the input resolve against it. */
  cwd?: string | undefined;
  /** The caller's capture environment (DISPLAY, audio server…): where a session it starts records. */
  env?: CaptureEnv | undefined;
  signal?: AbortSignal;
  /** Progress of long work (flushes, exports); adapters forward it when they can. */
  progress?: (p: { progress: number; total?: number; message?: string }) => void;
}

export interface Operation<I extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly input: I;
  readonly output: O;
  /** Changes nothing (MCP readOnlyHint). */
  readonly readOnly: boolean;
  /** Deletes what cannot be recovered (MCP destructiveHint). */
  readonly destructive?: boolean;
  run(services: Services, input: z.output<I>, ctx: OperationContext): Promise<z.input<O>> | z.input<O>;
}

/** An operation, its output schema declaring the wall-clock `at` beside each offset (see clock.ts). */
export function defineOperation<I extends z.ZodObject, O extends z.ZodObject>(op: Operation<I, O>): Operation<I, O> {
  return { ...op, output: withWallClock(op.output) };
}

export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(input)'}: ${i.message}`);
}

/**
 * Parses input, runs, parses output, adds the wall-clock `at` beside each
 * offset. Every failure comes out as a TracedError; bad input as
 * TRACED_INVALID_PARAMS naming the field and what to send instead.
 */
export async function invoke(op: Operation, rawInput: unknown, services: Services, ctx: OperationContext = {}): Promise<unknown> {
  const parsed = op.input.safeParse(rawInput ?? {}, { reportInput: true });
  if (!parsed.success) {
    throw invalidParams(op.name, op.input, parsed.error);
  }
  let result: unknown;
  try {
    result = await op.run(services, parsed.data, ctx);
  } catch (err) {
    throw toTracedError(err);
  }
  const out = op.output.safeParse(result);
  if (!out.success) {
    throw new TracedError(ErrorCodes.INTERNAL, `${op.name} returned an invalid result: ${formatIssues(out.error).join('; ')}`);
  }
  return addWallClock(out.data, (id) => services.sessions.clockOf(id));
}
