/**
 * An operation is data plus a function, defined once. MCP, IPC and the CLI
 * loop over the list; none of them has a branch per operation.
 */
import type { z } from 'zod';
import { ErrorCodes, TracedError, toTracedError } from '../errors.js';
import type { CaptureEnv } from '../model/capture-env.js';
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

export function defineOperation<I extends z.ZodObject, O extends z.ZodObject>(op: Operation<I, O>): Operation<I, O> {
  return op;
}

export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(input)'}: ${i.message}`);
}

/** Parses input, runs, parses output. Every failure comes out as a TracedError. */
export async function invoke(op: Operation, rawInput: unknown, services: Services, ctx: OperationContext = {}): Promise<unknown> {
  const parsed = op.input.safeParse(rawInput ?? {});
  if (!parsed.success) {
    const issues = formatIssues(parsed.error);
    throw new TracedError(ErrorCodes.INVALID_PARAMS, `invalid params for ${op.name}: ${issues.join('; ')}`, { data: { issues } });
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
  return out.data;
}
