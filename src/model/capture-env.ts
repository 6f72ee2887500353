/**
 * Where the screen and the sound are: a handful of environment variables that
 * belong to whoever asks for a recording (a terminal in a desktop session, an
 * SSH shell, an editor), not to the daemon, which may have been started
 * elsewhere and long before. Every CLI and MCP request carries the caller's;
 * the session it starts, and the device list it asks for, use them.
 */
import { z } from 'zod';

export const CAPTURE_ENV_KEYS = ['DISPLAY', 'WAYLAND_DISPLAY', 'XAUTHORITY', 'PULSE_SERVER', 'XDG_RUNTIME_DIR'] as const;
type Key = (typeof CAPTURE_ENV_KEYS)[number];

// Printable text an environment can hold (a NUL would make spawn throw).
const value = z
  .string()
  .max(4096)
  .regex(/^[^\u0000-\u001f\u007f]*$/, 'no control characters');

/** Only these keys cross the socket; others are dropped. */
export const CaptureEnv = z.object(Object.fromEntries(CAPTURE_ENV_KEYS.map((k) => [k, value.optional()])) as Record<Key, z.ZodOptional<typeof value>>);
export type CaptureEnv = z.infer<typeof CaptureEnv>;

type Env = Readonly<Record<string, string | undefined>>;

/** The capture variables an environment sets (to send with a request). */
export function captureEnvOf(env: Env): CaptureEnv {
  return Object.fromEntries(CAPTURE_ENV_KEYS.flatMap((k) => (env[k] ? [[k, env[k]]] : []))) as CaptureEnv;
}

/**
 * The environment a session records in: the daemon's, with the capture
 * variables replaced as a set by the caller's when the caller sent any (a
 * DISPLAY from one desktop must not meet the XAUTHORITY of another). A caller
 * that sent none (an old client, a bare shell) records where the daemon was started.
 */
export function sessionEnv(daemon: Env, caller: CaptureEnv | undefined): Env {
  if (!caller || !CAPTURE_ENV_KEYS.some((k) => caller[k])) return daemon;
  const out: Record<string, string | undefined> = { ...daemon };
  for (const k of CAPTURE_ENV_KEYS) {
    if (caller[k]) out[k] = caller[k];
    else delete out[k];
  }
  return out;
}
