/**
 * The wall-clock `at` beside every offset of every reply, done once for all
 * operations (MCP, IPC and CLI JSON alike): `offset_ms` gets `at`, each
 * `<x>_offset_ms` gets `<x>_at`, in the one format of src/timeline/clock.ts.
 * A field a service already set (e.g. search hits) is left as it is.
 *
 * `withWallClock` declares the fields in an output schema (so MCP
 * structuredContent validates against the tool's outputSchema);
 * `addWallClock` fills them in a reply with each session's clock, which the
 * session views give (`SessionViews.clockOf`, the format of clock.ts).
 */
import { z } from 'zod';
import { atKey, PAYLOAD_KEY as PAYLOAD } from '../model/clock.js';

export { atKey };

const AtField = z.string();

type Def = Record<string, unknown>;
const defOf = (s: z.ZodType) => (s as unknown as { _zod: { def: Def } })._zod.def;
/** A copy of a schema with a changed definition that keeps its description (metadata follows the parent). */
const cloneWith = <T extends z.ZodType>(s: T, def: Def): T => (s as unknown as { clone(d: Def, p: { parent: true }): T }).clone(def, { parent: true });

/** The schema with an optional `at` / `<x>_at` string declared beside every offset field, at any depth. */
export function withWallClock<T extends z.ZodType>(schema: T): T {
  return walk(schema) as T;
}

function walk(s: z.ZodType): z.ZodType {
  const def = defOf(s);
  switch (def.type) {
    case 'object': {
      const shape = (s as unknown as z.ZodObject).shape as Record<string, z.ZodType>;
      const next: Record<string, z.ZodType> = {};
      let changed = false;
      for (const [k, v] of Object.entries(shape)) {
        const w = k === PAYLOAD ? v : walk(v);
        if (w !== v) changed = true;
        next[k] = w;
        const ak = atKey(k);
        if (ak && !(ak in shape)) {
          next[ak] = AtField.optional();
          changed = true;
        }
      }
      return changed ? cloneWith(s, { ...def, shape: next }) : s;
    }
    case 'array': {
      const el = walk(def.element as z.ZodType);
      return el === def.element ? s : cloneWith(s, { ...def, element: el });
    }
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'nonoptional': {
      const inner = walk(def.innerType as z.ZodType);
      return inner === def.innerType ? s : cloneWith(s, { ...def, innerType: inner });
    }
    case 'union': {
      const options = def.options as z.ZodType[];
      const next = options.map(walk);
      return next.every((o, i) => o === options[i]) ? s : cloneWith(s, { ...def, options: next });
    }
    default:
      return s;
  }
}

/** A session's offsets as wall-clock strings, or undefined for a session it does not know. */
export type ClockOf = (sessionId: string) => ((offsetMs: number) => string) | undefined;

/**
 * Fills `at` beside each offset of a reply. An object's session is its
 * `session_id`, or itself when it is a session (`id` and `started_at`: a
 * summary, a digest's session); nested objects inherit it. Keys keep their
 * order, the wall-clock key right after its offset.
 */
export function addWallClock(value: unknown, clockOf: ClockOf): unknown {
  const cache = new Map<string, ((offsetMs: number) => string) | undefined>();
  const lookup = (id: string) => {
    if (!cache.has(id)) {
      let c: ((offsetMs: number) => string) | undefined;
      try {
        c = clockOf(id);
      } catch {
        c = undefined; // a session gone since: the reply stands without its clock times
      }
      cache.set(id, c);
    }
    return cache.get(id);
  };
  // The session is looked up only when an offset needs it: a list of sessions costs nothing.
  const visit = (v: unknown, session: string | undefined): unknown => {
    if (Array.isArray(v)) return v.map((x) => visit(x, session));
    if (typeof v !== 'object' || v === null) return v;
    const o = v as Record<string, unknown>;
    let sid = session;
    if (typeof o.session_id === 'string') sid = o.session_id;
    else if (typeof o.id === 'string' && typeof o.started_at === 'number') sid = o.id;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) {
      out[k] = k === PAYLOAD ? x : visit(x, sid);
      const ak = atKey(k);
      if (!ak || typeof x !== 'number' || !Number.isFinite(x) || ak in o || sid === undefined) continue;
      const clock = lookup(sid);
      if (clock) out[ak] = clock(x);
    }
    return out;
  };
  return visit(value, undefined);
}
