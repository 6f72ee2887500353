/**
 * tools/list is what every assistant pays for in context before its first
 * call: it stays under a byte budget (it was 71.7 KB; now about 25 KB), and
 * stays complete — every argument described, time arguments naming their
 * forms, every tool's reply shape published once.
 */
import { describe, expect, it } from 'vitest';
import { operations } from '../../src/api/index.js';
import { mcpOver } from './harness.js';

/** Bytes of the tools/list result as JSON. Raise it only with a reason: each KB is ~250 tokens in every conversation. */
// 72 KB before the trim (issue 17), ~25 KB after it; room for the terminal-output tool and range moments, no more.
const BUDGET = 30_000;

describe('tools/list', async () => {
  const { client } = await mcpOver();
  const result = await client.listTools();
  const { tools } = result;

  it(`fits in ${BUDGET} bytes of JSON`, () => {
    const bytes = Buffer.byteLength(JSON.stringify(result));
    console.info(`tools/list: ${bytes} bytes for ${tools.length} tools`);
    expect(bytes).toBeLessThanOrEqual(BUDGET);
  });

  it('lists every operation, each with a description and an input schema describing every argument', () => {
    expect(tools.map((t) => t.name).sort()).toEqual(operations.map((o) => o.name).sort());
    for (const t of tools) {
      expect(t.description?.length ?? 0, t.name).toBeGreaterThan(40);
      expect(t.inputSchema.type, t.name).toBe('object');
      const props = (t.inputSchema.properties ?? {}) as Record<string, { description?: string; type?: unknown; anyOf?: unknown }>;
      expect(Object.keys(props).sort(), t.name).toEqual(Object.keys(operations.find((o) => o.name === t.name)!.input.shape).sort());
      for (const [k, p] of Object.entries(props)) {
        expect(p.description?.length ?? 0, `${t.name}.${k} has no description`).toBeGreaterThan(10);
        expect(p.type ?? p.anyOf, `${t.name}.${k} has no type`).toBeDefined();
      }
      for (const r of (t.inputSchema.required as string[] | undefined) ?? []) expect(props[r], `${t.name} requires ${r}`).toBeDefined();
    }
  });

  it('names the accepted forms of every time argument', () => {
    for (const t of tools) {
      const props = (t.inputSchema.properties ?? {}) as Record<string, { description?: string }>;
      for (const [k, p] of Object.entries(props)) {
        const d = p.description ?? '';
        if (k === 'at')
          for (const form of ['"+90s"', '"+1:30"', '"14:32"', 'ISO 8601', 'epoch ms', 'ms from the session start']) expect(d, `${t.name}.at`).toContain(form);
        if (k === 'since' || k === 'until') for (const form of ['"2h"', 'ISO 8601', 'epoch ms']) expect(d, `${t.name}.${k}`).toContain(form);
        if (['from_ms', 'to_ms', 'seek_ms', 'advance_to_ms'].includes(k)) expect(d, `${t.name}.${k}`).toMatch(/ms from the session start|offset/);
      }
    }
  });

  it('publishes each reply shape once: a tool without an outputSchema names the tool whose schema it shares', () => {
    for (const t of tools) {
      if (t.outputSchema) {
        expect(t.outputSchema.type).toBe('object');
        expect(Object.keys(t.outputSchema.properties ?? {}).length, t.name).toBeGreaterThan(0);
        continue;
      }
      const like = /Replies like (\w+)\.$/.exec(t.description ?? '')?.[1];
      expect(like, `${t.name} has neither an outputSchema nor a "Replies like"`).toBeDefined();
      expect(tools.find((x) => x.name === like)?.outputSchema, `${t.name} replies like ${like}, which has no schema`).toBeDefined();
    }
  });

  it('declares the wall-clock twin of every top-level offset in the output schema', () => {
    for (const t of tools) {
      const props = Object.keys(t.outputSchema?.properties ?? {});
      for (const k of props.filter((p) => p === 'offset_ms' || p.endsWith('_offset_ms')))
        expect(props, t.name).toContain(k === 'offset_ms' ? 'at' : k.replace(/_offset_ms$/, '_at'));
    }
  });
});
