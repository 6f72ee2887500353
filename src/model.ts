/**
 * Domain schemas shared by the engine, the store and the operations, one file per
 * area under src/model/. Types come from these schemas; there is no hand-written
 * interface beside them.
 */
export * from './model/base.js';
export * from './model/operations.js';
export * from './model/queue.js';
export * from './model/replay.js';
export * from './model/terminal.js';
