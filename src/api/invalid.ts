/**
 * Schema failures of an operation's input, said so a caller can fix them:
 * each issue names the field, what was wrong with what was sent, what the
 * field accepts (its description) and a value that would pass. One place for
 * every operation (MCP, IPC and the CLI all go through invoke()).
 */
import type { z } from 'zod';
import { ErrorCodes, TracedError } from '../errors.js';
import { formsFor } from '../model/time-forms.js';

type Def = Record<string, unknown> & { type: string };
type Schema = z.ZodType;
const defOf = (s: Schema) => (s as unknown as { _zod: { def: Def } })._zod.def;

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'nonoptional', 'catch']);

/** The schema under wrappers (optional, default…), with the first default met on the way. */
function unwrap(s: Schema): { core: Schema; def?: unknown } {
  let cur = s;
  let dflt: unknown;
  for (let i = 0; i < 10 && WRAPPERS.has(defOf(cur).type); i++) {
    const d = defOf(cur);
    if (d.type === 'default' && dflt === undefined) dflt = typeof d.defaultValue === 'function' ? undefined : d.defaultValue;
    cur = d.innerType as Schema;
  }
  return { core: cur, def: dflt };
}

/** The schema of the field at `path`, when the path leads to one. */
function schemaAt(root: Schema, path: readonly PropertyKey[]): Schema | undefined {
  let cur: Schema | undefined = root;
  for (const key of path) {
    if (!cur) return undefined;
    const { core } = unwrap(cur);
    const d = defOf(core);
    if (d.type === 'object') cur = ((core as unknown as z.ZodObject).shape as Record<string, Schema>)[String(key)];
    else if (d.type === 'array') cur = d.element as Schema;
    else if (d.type === 'record') cur = d.valueType as Schema;
    else if (d.type === 'union') cur = (d.options as Schema[]).map((o) => schemaAt(o, [key])).find(Boolean);
    else return undefined;
  }
  return cur;
}

/** A description of what a schema accepts: its own, or its wrapped schema's. */
function descriptionOf(s: Schema): string | undefined {
  let cur: Schema | undefined = s;
  for (let i = 0; cur && i < 10; i++) {
    if (cur.description) return cur.description;
    const d = defOf(cur);
    cur = WRAPPERS.has(d.type) ? (d.innerType as Schema) : undefined;
  }
  return undefined;
}

const EPOCH_EXAMPLE = 1764430000000;

/** A value the field would accept, as JSON text (undefined when the description already shows one). */
export function exampleOf(s: Schema, name: string, depth = 0): string | undefined {
  const { core, def } = unwrap(s);
  if (def !== undefined && def !== null && JSON.stringify(def).length <= 40) return JSON.stringify(def);
  const d = defOf(core);
  const desc = descriptionOf(s) ?? '';
  switch (d.type) {
    case 'number': {
      const n = core as unknown as { minValue: number | null; maxValue: number | null };
      let v = /epoch/i.test(desc) ? EPOCH_EXAMPLE : name.endsWith('_ms') ? 90_000 : 10;
      if (n.maxValue !== null && v > n.maxValue) v = n.maxValue;
      if (n.minValue !== null && v < n.minValue) v = Math.ceil(n.minValue);
      return String(v);
    }
    case 'boolean':
      return 'true';
    case 'enum':
      return Object.values(d.entries as Record<string, string>)
        .map((x) => JSON.stringify(x))
        .join(' or ');
    case 'literal':
      return (d.values as unknown[]).map((x) => JSON.stringify(x)).join(' or ');
    case 'string': {
      // A pattern's own description shows the form; "text" would not pass it.
      const checks = (d.checks as { _zod: { def: { check: string } } }[] | undefined) ?? [];
      return /e\.g\.|"/.test(desc) || checks.some((c) => c._zod.def.check === 'string_format') ? undefined : '"text"';
    }
    case 'array': {
      const el = depth < 2 ? exampleOf(d.element as Schema, name, depth + 1) : undefined;
      return `[${el ?? '…'}]`;
    }
    case 'record':
      return '{"key": "value"}';
    case 'object':
      return depth === 0 ? '{…}' : undefined;
    default:
      return undefined;
  }
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 24 ? `${v.slice(0, 24)}…` : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

const EXPECTED: Record<string, string> = {
  number: 'a number',
  int: 'a whole number',
  string: 'a string',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
  record: 'an object',
  null: 'null',
};
const expected = (e: unknown) => EXPECTED[String(e)] ?? String(e);

type Issue = z.core.$ZodIssue & { input?: unknown };

function problem(i: Issue): string {
  const got = describeValue(i.input);
  switch (i.code) {
    case 'invalid_type':
      return i.input === undefined ? 'missing (it is required)' : `expected ${expected(i.expected)}, got ${got}`;
    case 'invalid_union': {
      if (i.input === undefined) return 'missing (it is required)';
      const alts = [
        ...new Set(
          i.errors.flatMap((e) =>
            e.filter((x) => x.code === 'invalid_type' && x.path.length === 0).map((x) => expected((x as { expected?: unknown }).expected)),
          ),
        ),
      ];
      return alts.length ? `expected ${alts.join(' or ')}, got ${got}` : `${got} is in none of the accepted forms`;
    }
    case 'invalid_value':
      return `${got} is not one of ${i.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
    case 'too_big': {
      const bound = i.code === 'too_small' ? `at least ${i.minimum}` : `at most ${i.maximum}`;
      const unit = i.origin === 'string' ? ' characters' : i.origin === 'array' || i.origin === 'set' ? ' items' : '';
      const what =
        i.origin === 'string' || i.origin === 'array'
          ? i.code === 'too_small'
            ? 'too short'
            : 'too long'
          : `${got} is too ${i.code === 'too_small' ? 'small' : 'large'}`;
      return `${what} (${bound}${unit})`;
    }
    case 'invalid_format':
      // zod's own text for a pattern is the regex; the field's description says the form in words.
      return i.message.startsWith('Invalid') ? `${got} is not in the accepted form` : `${got} is not valid: ${i.message}`;
    case 'unrecognized_keys':
      return `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.join(', ')}`;
    default:
      return i.message;
  }
}

/** Where a moment is written as a wall time or "+offset" instead of milliseconds. */
const TIME_HINT = 'a moment written as "14:32", "+1:30", "+90s" or an ISO date-time is what replay_at, get_frame and annotate take as "at"';

function fieldName(path: readonly PropertyKey[]): string {
  return path.length ? path.map(String).join('.') : '(arguments)';
}

/** One issue, said in full: field, what was wrong, what it accepts, an example. */
function explain(root: Schema, i: Issue): string {
  const field = fieldName(i.path);
  let text = `${field}: ${problem(i)}`;
  if (i.path.length === 0) {
    const shape = defOf(root).type === 'object' ? ((root as unknown as z.ZodObject).shape as Record<string, Schema>) : {};
    const names = Object.entries(shape).map(([k, v]) => (v.safeParse(undefined).success ? k : `${k} (required)`));
    return `${text}; send an object of named arguments${names.length ? `: ${names.join(', ')}` : ' ({})'}`;
  }
  const s = schemaAt(root, i.path);
  if (!s) return text;
  const last = String(i.path[i.path.length - 1]);
  const desc = descriptionOf(s);
  if (desc) text += `. ${field} is: ${desc.replace(/\.$/, '')}`;
  const ex = exampleOf(s, last);
  if (ex) text += `. Example: ${ex}`;
  const { core } = unwrap(s);
  if (defOf(core).type === 'number' && last.endsWith('_ms') && typeof i.input === 'string')
    text += `. ${field} counts milliseconds from the session start; ${TIME_HINT}`;
  return text;
}

type TimeUse = 'at' | 'since' | 'until' | 'last';
const TIME_USE: Record<string, TimeUse> = { at: 'at', from: 'at', to: 'at', since: 'since', until: 'until', last: 'last' };

/**
 * How a top-level field names a moment, when it does: a field of the time
 * grammar is one of these names and its schema is the grammar's shape (a
 * number-or-string union: At, TimeArg, RangeMoment; or a string for `last`).
 */
export function timeFieldUse(root: Schema, path: readonly PropertyKey[]): TimeUse | undefined {
  if (path.length !== 1) return undefined;
  const use = TIME_USE[String(path[0])];
  const s = use && schemaAt(root, path);
  if (!s) return undefined;
  const d = defOf(unwrap(s).core);
  if (use === 'last') return d.type === 'string' ? use : undefined;
  if (d.type !== 'union') return undefined;
  const kinds = (d.options as Schema[]).map((o) => defOf(unwrap(o).core).type).sort();
  return kinds.join() === 'number,string' ? use : undefined;
}

/**
 * The TracedError for input that failed its operation's schema:
 * TRACED_INVALID_PARAMS naming each field; TRACED_INVALID_TIME, with the forms
 * the field takes, when every failing field is a moment of the time grammar.
 */
export function invalidParams(operation: string, schema: Schema, error: z.ZodError): TracedError {
  const uses = error.issues.map((i) => timeFieldUse(schema, i.path));
  // A missing time argument is a missing argument (INVALID_PARAMS); a malformed one is a time problem.
  if (uses.length && uses.every((u) => u !== undefined) && error.issues.every((i) => (i as Issue).input !== undefined)) {
    const issues = error.issues.slice(0, 8).map((i, n) => {
      const field = fieldName(i.path);
      const got = describeValue((i as Issue).input);
      const use = uses[n] as TimeUse;
      return `${field}: ${got} is not a time; ${field} takes ${formsFor(use)}`;
    });
    return new TracedError(ErrorCodes.INVALID_TIME, `invalid ${operation} arguments: ${issues.join('; ')}`, {
      data: { issues, fields: [...new Set(error.issues.map((i) => fieldName(i.path)))], field: fieldName(error.issues[0]?.path ?? []) },
    });
  }
  const issues = error.issues.slice(0, 8).map((i) => explain(schema, i as Issue));
  const more = error.issues.length > 8 ? `; and ${error.issues.length - 8} more` : '';
  return new TracedError(ErrorCodes.INVALID_PARAMS, `invalid arguments for ${operation}: ${issues.join('; ')}${more}`, {
    data: { issues, fields: [...new Set(error.issues.map((i) => fieldName(i.path)))] },
  });
}
