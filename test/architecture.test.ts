/**
 * The import rules of DESIGN.md §2, read from the source itself:
 * - no import cycle, type imports included;
 * - no service imports src/api, src/daemon, the MCP SDK or node-ipc;
 * - adapters (cli, mcp, ipc) never load src/daemon, SQLite, chokidar or videodb
 *   through a static import (only `await import()` for the command that needs it);
 * - no source file over 600 lines.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '..', 'src');

interface Edge {
  to: string;
  typeOnly: boolean;
}

function sourceFiles(dir = SRC): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const rel = (f: string) => path.relative(SRC, f).split(path.sep).join('/');

/** Static imports and re-exports of a file (dynamic `import()` is not one). */
function importsOf(file: string): Edge[] {
  const text = fs.readFileSync(file, 'utf8');
  const edges: Edge[] = [];
  const re = /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;
  for (const m of text.matchAll(re)) {
    const spec = m[3] as string;
    // `import { type A, type B } from` is type-only too.
    const names = /\{([^}]*)\}/.exec(m[0])?.[1];
    const allTypes = names
      ?.split(',')
      .filter((n) => n.trim())
      .every((n) => n.trim().startsWith('type '));
    const typeOnly = Boolean(m[2]) || allTypes;
    if (spec.startsWith('.')) {
      const target = path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts'));
      edges.push({ to: rel(target), typeOnly });
    } else edges.push({ to: spec, typeOnly });
  }
  return edges;
}

const files = sourceFiles();
const graph = new Map(files.map((f) => [rel(f), importsOf(f)]));

function cycles(includeTypes: boolean): string[][] {
  // Tarjan's strongly connected components over local files.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const e of graph.get(v) ?? []) {
      if (!graph.has(e.to) || (!includeTypes && e.typeOnly)) continue;
      if (!idx.has(e.to)) {
        visit(e.to);
        low.set(v, Math.min(low.get(v) as number, low.get(e.to) as number));
      } else if (on.has(e.to)) low.set(v, Math.min(low.get(v) as number, idx.get(e.to) as number));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? []).some((e) => e.to === v)) out.push(comp.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

/** Everything a file loads through static, non-type imports, transitively. */
function loadedBy(start: string): Set<string> {
  const seen = new Set<string>();
  const todo = [start];
  while (todo.length) {
    const v = todo.pop() as string;
    if (seen.has(v)) continue;
    seen.add(v);
    for (const e of graph.get(v) ?? []) if (!e.typeOnly) todo.push(e.to);
  }
  return seen;
}

const SERVICES = /^(session|capture|timeline|index|export|queue)\/|^retention\.ts$/;
const ADAPTERS = /^(cli|mcp|ipc)\//;

describe('architecture', () => {
  it('reads the source it checks (the rules below cannot pass on an empty tree)', () => {
    expect(files.length).toBeGreaterThan(40);
    expect(graph.get('daemon/main.ts')?.some((e) => e.to === 'session/recorder.ts')).toBe(true);
    expect(graph.get('api/services.ts')?.every((e) => e.typeOnly)).toBe(true);
  });

  it('has no import cycle, type imports included', () => {
    expect(cycles(true)).toEqual([]);
  });

  it('no service imports src/api, src/daemon, the MCP SDK or node-ipc', () => {
    const bad: string[] = [];
    for (const [f, edges] of graph) {
      if (!SERVICES.test(f)) continue;
      for (const e of edges) {
        if (/^(api|daemon)\//.test(e.to) || e.to.startsWith('@modelcontextprotocol/') || e.to === 'node-ipc') bad.push(`${f} -> ${e.to}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('adapters load no daemon, SQLite, watcher or uploader through a static import', () => {
    const bad: string[] = [];
    for (const f of graph.keys()) {
      if (!ADAPTERS.test(f)) continue;
      for (const m of loadedBy(f)) {
        if (/^daemon\//.test(m) || ['better-sqlite3', 'chokidar', 'videodb'].includes(m)) bad.push(`${f} loads ${m}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('keeps every source file under 600 lines', () => {
    const long = files.map((f) => [rel(f), fs.readFileSync(f, 'utf8').split('\n').length] as const).filter(([, n]) => n > 600);
    expect(long).toEqual([]);
  });

  it('operations reach services only through src/api/services.ts (types)', () => {
    const bad: string[] = [];
    for (const [f, edges] of graph) {
      if (!f.startsWith('api/')) continue;
      for (const e of edges) if (SERVICES.test(e.to) && !e.typeOnly) bad.push(`${f} -> ${e.to}`);
    }
    expect(bad).toEqual([]);
  });
});
