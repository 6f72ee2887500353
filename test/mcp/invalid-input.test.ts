/**
 * Wrong arguments get an answer a caller can act on: TRACED_INVALID_PARAMS
 * (never TRACED_INTERNAL) naming the field, what was wrong, and what to send
 * instead; a malformed time argument alone is TRACED_INVALID_TIME with the forms it takes. Properties generate the wrong values from each operation's own zod
 * input schema, so a new operation or field is covered without an edit here.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { invoke, operations } from '../../src/api/index.js';
import { ErrorCodes, TracedError } from '../../src/errors.js';
import { testServices } from '../helpers/services.js';
import { mcpOver } from './harness.js';

const t = testServices();
/** Fields of the one time grammar (DESIGN.md §8): at, from/to (get_timeline, get_transcript), since/until, last. */
const TIME_FIELDS = new Set(['at', 'from', 'to', 'since', 'until', 'last']);

async function failure(name: string, args: unknown): Promise<TracedError> {
  const op = operations.find((o) => o.name === name)!;
  const err = await invoke(op, args, t.services).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `${name} accepted ${JSON.stringify(args)?.slice(0, 200)}`).toBeInstanceOf(TracedError);
  return err as TracedError;
}

/** Every (operation, field) pair of the tool list. */
const fields = operations.flatMap((op) =>
  Object.entries(op.input.shape as Record<string, z.ZodType>).map(([field, schema]) => ({ op: op.name, field, schema })),
);

describe('invalid arguments, for every operation and field', () => {
  it('has fields to attack', () => {
    expect(fields.length).toBeGreaterThan(40);
  });

  it('any value a field refuses gets TRACED_INVALID_PARAMS naming that field, with what it accepts', async () => {
    const pair = fc.constantFrom(...fields).chain(({ op, field, schema }) =>
      fc
        .anything({ withBigInt: false, withNullPrototype: true, withObjectString: true, maxDepth: 2 })
        .filter((v) => v !== undefined && !schema.safeParse(v).success)
        .map((value) => ({ op, field, schema, value })),
    );
    await fc.assert(
      fc.asyncProperty(pair, async ({ op, field, value }) => {
        const e = await failure(op, { [field]: value });
        // A malformed moment is a time error naming the forms (DESIGN §8) when nothing else is wrong with the call.
        const paths = (operations.find((o) => o.name === op)?.input.safeParse({ [field]: value }).error?.issues ?? []).map((i) => String(i.path[0]));
        const timeOnly = TIME_FIELDS.has(field) && paths.every((p) => p === field);
        expect(e.code, e.message).toBe(timeOnly ? ErrorCodes.INVALID_TIME : ErrorCodes.INVALID_PARAMS);
        expect(e.code).not.toBe(ErrorCodes.INTERNAL);
        const fieldsNamed = e.data?.fields as string[];
        expect(
          fieldsNamed.some((f) => f === field || f.startsWith(`${field}.`)),
          `${e.message} does not name ${field}`,
        ).toBe(true);
        const mine = (e.data!.issues as string[]).filter((i) => i.startsWith(`${field}:`) || i.startsWith(`${field}.`));
        expect(mine.length, e.message).toBeGreaterThan(0);
        // Says what the field takes: its description, or a value that passes.
        for (const i of mine.filter((x) => x.startsWith(`${field}:`)))
          expect(i).toMatch(new RegExp(timeOnly ? `; ${field} takes .*(30m|\\+1:30)` : `\\. ${field} is: .+|Example: `));
      }),
      { numRuns: 400 },
    );
  });

  it('arguments that are not an object get TRACED_INVALID_PARAMS listing the fields', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...operations.map((o) => o.name)),
        fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.array(fc.anything({ maxDepth: 1 }))),
        async (op, value) => {
          const e = await failure(op, value);
          expect(e.code).toBe(ErrorCodes.INVALID_PARAMS);
          expect(e.message).toContain('(arguments)');
          const required = Object.entries(operations.find((o) => o.name === op)!.input.shape as Record<string, z.ZodType>).filter(
            ([, s]) => !s.safeParse(undefined).success,
          );
          for (const [k] of required) expect(e.message).toContain(`${k} (required)`);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('examples in the messages are accepted by the field they are for', async () => {
    // Every message's "Example: X" for a top-level field parses as that field.
    for (const { op, field, schema } of fields) {
      const e = await failure(op, { [field]: { wrong: true } });
      for (const issue of (e.data!.issues as string[]).filter((i) => i.startsWith(`${field}:`))) {
        const m = /Example: (.+?)(?:\. |$)/.exec(issue);
        if (!m) continue;
        const first = (m[1] as string).split(' or ')[0] as string;
        const value = first === '{…}' || first.includes('…') ? undefined : JSON.parse(first);
        if (value !== undefined) expect(schema.safeParse(value).success, `${op}.${field}: example ${first} is refused`).toBe(true);
      }
    }
  });
});

describe('the messages an assistant sees', () => {
  it('a wall time for get_timeline.from_ms says it counts ms and that replay_at takes "14:32"', async () => {
    const e = await failure('get_timeline', { session: 'last', from_ms: '14:32' });
    expect(e.code).toBe(ErrorCodes.INVALID_PARAMS);
    expect(e.message).toContain('from_ms: expected a number, got the string "14:32"');
    expect(e.message).toMatch(/Example: 90000/);
    expect(e.message).toContain('replay_at');
    expect(e.message).toContain('"14:32"');
  });

  it('a bad limit says the bound; a missing query says it is required; an unknown enum lists the choices', async () => {
    const s = await failure('search', { query: 'x', limit: -3 });
    expect(s.message).toMatch(/limit: -3 is too small \(at least 1\)/);
    expect(s.message).toContain('Example: 20');
    const q = await failure('search', {});
    expect(q.message).toContain('query: missing (it is required)');
    const x = await failure('export_session', { session: 'last', target: 'gif' });
    expect(x.message).toMatch(/target: the string "gif" is not one of "mp4", "videodb", "json", "jsonl", "raw"/);
  });

  it('over MCP the error is isError with the code first and the field named', async () => {
    const { client } = await mcpOver(t);
    const r = await client.callTool({ name: 'replay_at', arguments: { session: 'last', at: true } });
    expect(r.isError).toBe(true);
    expect(r._meta?.code).toBe(ErrorCodes.INVALID_TIME);
    const text = (r.content as { text: string }[])[0]?.text ?? '';
    expect(text).toMatch(/^TRACED_INVALID_TIME: invalid replay_at arguments: at: true is not a time; at takes \+90s, \+1:30/);
    expect(text).toContain('14:32');
    const other = await client.callTool({ name: 'replay_at', arguments: { session: 'last', at: '+1s', tolerance_ms: true } });
    expect(other._meta?.code).toBe(ErrorCodes.INVALID_PARAMS);
    expect((other.content as { text: string }[])[0]?.text).toMatch(/^TRACED_INVALID_PARAMS: invalid arguments for replay_at: tolerance_ms: expected a number/);
  });
});
