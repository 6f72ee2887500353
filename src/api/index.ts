/**
 * The one list of operations, gathered from the group files: an operation is
 * an exported `defineOperation(...)` in one of them, and nothing else needs
 * an edit (a new group file is one import below).
 */
import * as exporting from './export.js';
import type { Operation } from './operation.js';
import * as queue from './queue.js';
import * as replay from './replay.js';
import * as sessions from './sessions.js';
import * as terminal from './terminal.js';
import * as timeline from './timeline.js';

const isOperation = (v: unknown): v is Operation =>
  typeof v === 'object' && v !== null && typeof (v as Operation).name === 'string' && typeof (v as Operation).run === 'function';

export const operations: readonly Operation[] = [sessions, timeline, replay, exporting, queue, terminal].flatMap((group) =>
  Object.values(group).filter(isOperation),
);

const byName = new Map(operations.map((op) => [op.name, op]));
if (byName.size !== operations.length) throw new Error('two operations share a name');

export function findOperation(name: string): Operation | undefined {
  return byName.get(name);
}

export { invoke, type Operation, type OperationContext } from './operation.js';
export type { Services } from './services.js';
