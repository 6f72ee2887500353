/**
 * The one error type that crosses every boundary. Codes are stable strings
 * (`TRACED_<AREA>_<WHAT>`); adapters map them once (MCP `isError`, IPC error
 * object, CLI message + exit code). Tests assert `code`, never message text.
 */
export const ErrorCodes = {
  /** Input failed its schema. `data.issues` lists the problems. */
  INVALID_PARAMS: 'TRACED_INVALID_PARAMS',
  /** A handler broke its own output contract: a bug, reported rather than hidden. */
  INTERNAL: 'TRACED_INTERNAL',
  /** Node.js is older than the engines range. */
  NODE_VERSION: 'TRACED_NODE_VERSION',
  CONFIG_INVALID: 'TRACED_CONFIG_INVALID',
  /** The socket path exceeds the platform's sun_path limit. */
  SOCKET_PATH_TOO_LONG: 'TRACED_SOCKET_PATH_TOO_LONG',
  /** The socket directory is not a private directory of this user. */
  SOCKET_DIR_INSECURE: 'TRACED_SOCKET_DIR_INSECURE',
  DAEMON_RUNNING: 'TRACED_DAEMON_RUNNING',
  DAEMON_UNREACHABLE: 'TRACED_DAEMON_UNREACHABLE',
  DAEMON_STOPPING: 'TRACED_DAEMON_STOPPING',
  SESSION_ACTIVE: 'TRACED_SESSION_ACTIVE',
  SESSION_NOT_FOUND: 'TRACED_SESSION_NOT_FOUND',
  SESSION_NOT_ACTIVE: 'TRACED_SESSION_NOT_ACTIVE',
  SESSION_STATE: 'TRACED_SESSION_STATE',
  SESSION_START_FAILED: 'TRACED_SESSION_START_FAILED',
  PROJECT_NOT_FOUND: 'TRACED_PROJECT_NOT_FOUND',
  CHANNEL_UNKNOWN: 'TRACED_CHANNEL_UNKNOWN',
  CHANNEL_START_FAILED: 'TRACED_CHANNEL_START_FAILED',
  CAPTURE_DEVICE_UNAVAILABLE: 'TRACED_CAPTURE_DEVICE_UNAVAILABLE',
  STORE_FAILED: 'TRACED_STORE_FAILED',
  /** The disk holding TRACED_HOME is full: nothing new can be kept until space returns. */
  DISK_FULL: 'TRACED_DISK_FULL',
  STORE_MIGRATION: 'TRACED_STORE_MIGRATION',
  SEARCH_QUERY: 'TRACED_SEARCH_QUERY',
  IPC_UNKNOWN_METHOD: 'TRACED_IPC_UNKNOWN_METHOD',
  IPC_BAD_FRAME: 'TRACED_IPC_BAD_FRAME',
  IPC_TIMEOUT: 'TRACED_IPC_TIMEOUT',
  /** The daemon already serves as many clients as it allows; try again when one has gone. */
  IPC_TOO_MANY_CLIENTS: 'TRACED_IPC_TOO_MANY_CLIENTS',
  CLI_USAGE: 'TRACED_CLI_USAGE',
  /** A model download failed (network, HTTP status). */
  MODEL_DOWNLOAD: 'TRACED_MODEL_DOWNLOAD',
  /** A downloaded model did not have its published hash: it was not installed. */
  MODEL_HASH: 'TRACED_MODEL_HASH',
  /** The session has no stored media to export. */
  EXPORT_NO_MEDIA: 'TRACED_EXPORT_NO_MEDIA',
  EXPORT_FAILED: 'TRACED_EXPORT_FAILED',
  /** `traced shell` could not start its command in a pseudo-terminal (no PTY, no such program). */
  SHELL_PTY_FAILED: 'TRACED_SHELL_PTY_FAILED',
  /** The upload target refused the API key: the queue is paused until the key changes. */
  UPLOAD_AUTH: 'TRACED_UPLOAD_AUTH',
  /** The user paused the upload queue. */
  QUEUE_PAUSED: 'TRACED_QUEUE_PAUSED',
  /** No upload target is configured (no VideoDB key). */
  NO_TARGET: 'TRACED_NO_UPLOAD_TARGET',
  /** A recording offered for import is malformed or hostile; `data.field` names what is wrong (never its content). */
  IMPORT_INVALID: 'TRACED_IMPORT_INVALID',
  /** A reply would exceed the frame or byte budget; the message says how to page. */
  REPLY_TOO_LARGE: 'TRACED_REPLY_TOO_LARGE',
  /** A time argument is in none of the accepted forms (listed in the message). */
  INVALID_TIME: 'TRACED_INVALID_TIME',
  /** TRACED_HOME (or a folder under it) cannot be created or written. */
  HOME_UNWRITABLE: 'TRACED_HOME_UNWRITABLE',
  /** traced.db is not a readable database; it was moved aside and rebuilt from the session folders. */
  DB_CORRUPT: 'TRACED_DB_CORRUPT',
  /** The socket directory cannot be used (mode, owner, not a directory); the message says why. */
  SOCKET_DIR_UNUSABLE: 'TRACED_SOCKET_DIR_UNUSABLE',
  /** The session has no recorded screen (no display channel). */
  NO_SCREEN: 'TRACED_NO_SCREEN',
  /** An MCP client's config file is not JSON/TOML traced can read (or has comments it would lose): it was left as it is. */
  MCP_CONFIG_UNPARSABLE: 'TRACED_MCP_CONFIG_UNPARSABLE',
  /** The daemon did not exit after a stop request, SIGTERM and SIGKILL. */
  DAEMON_STOP_FAILED: 'TRACED_DAEMON_STOP_FAILED',
  /** The lock file names a live process that does not answer on the socket and cannot be shown to be a traced daemon: it was not signalled. */
  DAEMON_UNVERIFIED: 'TRACED_DAEMON_UNVERIFIED',
  /** An output path (-o, --frame) that cannot or must not be written: a device, fifo, folder, existing file without --force, missing parent. */
  OUTPUT_REFUSED: 'TRACED_OUTPUT_REFUSED',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class TracedError extends Error {
  readonly code: ErrorCode;
  readonly data: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options?: { data?: Record<string, unknown>; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TracedError';
    this.code = code;
    this.data = options?.data;
  }

  /** The shape every adapter puts on the wire. */
  toJSON(): { code: ErrorCode; message: string; data?: Record<string, unknown> } {
    return this.data === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, data: this.data };
  }
}

const known = new Set<string>(Object.values(ErrorCodes));

/** The one refusal every part gives once the daemon has begun to stop. */
export function daemonStopping(): TracedError {
  return new TracedError(ErrorCodes.DAEMON_STOPPING, 'the daemon is shutting down');
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && known.has(value);
}

/** Turns anything thrown into a TracedError; unknown failures become TRACED_INTERNAL with the cause kept. */
export function toTracedError(err: unknown): TracedError {
  if (err instanceof TracedError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new TracedError(ErrorCodes.INTERNAL, message, { cause: err });
}

/** True for the ways a full disk shows up: ENOSPC from fs and ffmpeg, SQLITE_FULL from the database. */
export function isDiskFull(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  return e?.code === 'ENOSPC' || e?.code === 'SQLITE_FULL' || /no space left on device|database or disk is full/i.test(String(e?.message ?? ''));
}
