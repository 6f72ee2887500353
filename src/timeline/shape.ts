/**
 * Shape limits at the trust boundary: how deep, how long and how large a
 * value that enters may be. Checked before anything walks the value, so no
 * later code (redaction, text extraction, JSON encoding) meets unbounded input.
 */
import { ErrorCodes, TracedError } from '../errors.js';

export interface ShapeLimits {
  /** Containers nested in containers: `{}` is depth 1, `{"a": []}` depth 2. */
  readonly maxDepth: number;
  /** One string (a value or a key), in UTF-8 bytes. */
  readonly maxStringBytes: number;
  readonly maxArrayItems: number;
  readonly maxObjectKeys: number;
  /** The whole value as JSON, estimated (escapes not counted), in bytes. */
  readonly maxTotalBytes: number;
}

export const SHAPE_LIMITS: ShapeLimits = Object.freeze({
  maxDepth: 64,
  maxStringBytes: 256 * 1024,
  maxArrayItems: 10_000,
  maxObjectKeys: 1_000,
  maxTotalBytes: 1024 * 1024,
});

interface Frame {
  obj: object;
  /** An object's own keys; undefined for an array. */
  keys: string[] | undefined;
  i: number;
  n: number;
  /** Depth of this container: the root container is 1. */
  depth: number;
}

type Limit = 'depth' | 'string' | 'array' | 'object' | 'size';

function refuse(limit: Limit, max: number, what: string, message: string): never {
  throw new TracedError(ErrorCodes.INVALID_PARAMS, `${what}: ${message} (limit ${limit}: ${max})`, { data: { limit, max, field: what } });
}

/** UTF-8 size of `s` without encoding it when its length already decides. */
function stringBytes(s: string, cap: number): number {
  if (s.length > cap || s.length * 3 <= cap) return s.length;
  return Buffer.byteLength(s, 'utf8');
}

/**
 * Throws `TRACED_INVALID_PARAMS` when `value` is deeper, longer or larger
 * than `limits` allow; `data` is `{ limit, max, field: what }` and the
 * message names the limit. Returns nothing when the value is within them.
 * Iterative and stops at the first excess: any input, however deep or
 * cyclic, is answered in time proportional to the limits, never the input.
 */
export function checkShape(value: unknown, limits: ShapeLimits = SHAPE_LIMITS, what = 'data'): void {
  let total = 0;
  const addBytes = (n: number): void => {
    total += n;
    if (total > limits.maxTotalBytes) refuse('size', limits.maxTotalBytes, what, `is larger than ${limits.maxTotalBytes} bytes as JSON`);
  };
  const checkString = (s: string): void => {
    const bytes = stringBytes(s, limits.maxStringBytes);
    if (bytes > limits.maxStringBytes) refuse('string', limits.maxStringBytes, what, `holds a string longer than ${limits.maxStringBytes} bytes`);
    addBytes(bytes + 2);
  };
  // One frame per open container, holding where its walk is: the stack grows
  // with depth (capped), never with the width of what was sent.
  const stack: Frame[] = [];
  const enter = (v: unknown, depth: number): void => {
    if (typeof v === 'string') {
      checkString(v);
      return;
    }
    if (v === null || typeof v !== 'object') {
      // Numbers, booleans, null; JSON drops functions, symbols and undefined.
      addBytes(typeof v === 'number' || typeof v === 'bigint' ? 8 : 4);
      return;
    }
    if (depth > limits.maxDepth) refuse('depth', limits.maxDepth, what, `is nested deeper than ${limits.maxDepth} levels`);
    if (Array.isArray(v)) {
      if (v.length > limits.maxArrayItems) refuse('array', limits.maxArrayItems, what, `holds an array of more than ${limits.maxArrayItems} items`);
      addBytes(2 + v.length);
      stack.push({ obj: v, keys: undefined, i: 0, n: v.length, depth });
      return;
    }
    const keys = Object.keys(v);
    if (keys.length > limits.maxObjectKeys) refuse('object', limits.maxObjectKeys, what, `holds an object with more than ${limits.maxObjectKeys} keys`);
    addBytes(2 + keys.length * 2);
    stack.push({ obj: v, keys, i: 0, n: keys.length, depth });
  };
  enter(value, 1);
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as Frame;
    if (top.i >= top.n) {
      stack.pop();
      continue;
    }
    const i = top.i++;
    if (top.keys === undefined) {
      enter((top.obj as unknown[])[i], top.depth + 1);
    } else {
      const key = top.keys[i] as string;
      checkString(key);
      enter((top.obj as Record<string, unknown>)[key], top.depth + 1);
    }
  }
}
