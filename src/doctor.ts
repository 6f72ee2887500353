/**
 * `traced doctor`: checks what recording needs on this machine — Node, ffmpeg,
 * the display and audio servers, devices, the socket and daemon, the disk and
 * the database — and says how to fix each problem. Runs in the CLI process so
 * it works when the daemon cannot start; it never changes anything.
 */
import { clientsSummary } from './cli/commands/mcp-install.js';
import fs from 'node:fs';
import path from 'node:path';
import { resolveFfmpeg } from './capture/ffmpeg.js';
import { bytes } from './cli/format.js';
import { listDevices } from './capture/devices.js';
import { run } from './capture/proc.js';
import type { Env } from './config/config.js';
import { probeSocket } from './ipc/probe.js';
import { reachPaths, setup } from './config/setup.js';
import { freeBytes, movedAsideDbs } from './config/paths.js';
import { ErrorCodes, type TracedError } from './errors.js';
import { serviceState } from './service.js';
import { pickModel } from './index/models.js';
import { chooseOcr } from './index/ocr.js';
import { chooseSpeech, whisperAvailable } from './index/speech.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  id: string;
  status: CheckStatus;
  summary: string;
  /** What to do about a warn or fail. */
  fix?: string;
  data?: Record<string, unknown>;
}

export interface DoctorReport {
  ok: boolean;
  checks: Check[];
}

/** Below this, a segment may not fit: recording stops. */
const FAIL_FREE_BYTES = 100 * 1024 * 1024;
/** Below this, about an hour of screen + mic is left at the measured rates. */
const WARN_FREE_BYTES = 2 * 1024 * 1024 * 1024;
const MIN_NODE: [number, number] = [22, 13];
const REBUILD_FIX = 'stop the daemon, move traced.db (and its -wal, -shm) aside and start again: sessions are rebuilt from their folders';

/** Why `home` could not be created or written, judged without writing anything; undefined when it can. */
function homeProblem(home: string): string | undefined {
  let d = home;
  while (!fs.existsSync(d) && path.dirname(d) !== d) d = path.dirname(d);
  // A file in the way shows as ENOTDIR on the path below it: find the file itself.
  for (let up = d; path.dirname(up) !== up; up = path.dirname(up)) {
    if (fs.existsSync(up) && !fs.statSync(up).isDirectory()) return `${up} is a file, not a directory`;
  }
  // /proc, /sys and friends: root may "write" there, but no folder can be made.
  const VIRTUAL = [0x9fa0, 0x62656572, 0x1cd1, 0x64626720, 0x27e0eb, 0x63677270];
  let type: number | undefined;
  try {
    type = fs.statfsSync(d).type;
  } catch {
    // statfs unsupported here: only the access check below
  }
  if (type !== undefined && VIRTUAL.includes(type)) return `${d} is on a virtual file system (like /proc or /sys) that holds no folders`;
  try {
    fs.accessSync(d, fs.constants.W_OK | fs.constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EROFS' ? `${d} is on a read-only file system` : `${d} cannot be written by this user (${code})`;
  }
  return undefined;
}

export async function doctor(env: Env, platform: NodeJS.Platform = process.platform): Promise<DoctorReport> {
  const checks: Check[] = [];
  // One line per check: tools' multi-line stderr is folded.
  const add = (c: Check) => checks.push({ ...c, summary: c.summary.trim().replace(/\s*\n\s*/g, '; ') });

  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  add(
    major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1])
      ? { id: 'node', status: 'ok', summary: `Node.js ${process.versions.node} (${process.execPath})` }
      : {
          id: 'node',
          status: 'fail',
          summary: `Node.js ${process.versions.node} is too old`,
          fix: 'install Node.js 22.13 or newer (nodejs.org, your package manager, or a version manager: fnm install 22, nvm install 22), then run traced with it',
        },
  );

  let config: ReturnType<typeof setup>['config'] | undefined;
  let paths: ReturnType<typeof setup>['paths'] | undefined;
  try {
    ({ config, paths } = setup(env));
    add({ id: 'config', status: 'ok', summary: `config and data in ${paths.home}` });
  } catch (err) {
    const e = err as TracedError;
    add({
      id: 'config',
      status: 'fail',
      summary: `${e.code ?? 'error'}: ${e.message}`,
      fix: 'correct config.json (see README, "Configuration") or the TRACED_* environment variables',
    });
    // The checks of files and the socket still run, where a daemon started with the earlier file would be.
    try {
      paths = reachPaths(env).paths;
    } catch {
      // the paths themselves are wrong (a socket path too long): said above
    }
  }

  let ffmpegPath: string | undefined;
  try {
    const ff = await resolveFfmpeg({ configPath: config?.capture.ffmpegPath, env });
    ffmpegPath = ff.path;
    add({ id: 'ffmpeg', status: 'ok', summary: `ffmpeg ${ff.version} from ${ff.source} (${ff.path})`, data: { ...ff } });
    const probe = await run(ff.ffprobe, ['-version'], { env, timeoutMs: 5000 });
    add(
      probe.code === 0
        ? { id: 'ffprobe', status: 'ok', summary: `ffprobe (${ff.ffprobe})` }
        : {
            id: 'ffprobe',
            status: 'warn',
            summary: `ffprobe not found (${ff.ffprobe})`,
            fix: 'install ffprobe next to ffmpeg (it ships with ffmpeg): it measures segments left by a crash',
          },
    );
  } catch (err) {
    add({
      id: 'ffmpeg',
      status: 'fail',
      summary: (err as Error).message,
      fix:
        platform === 'darwin'
          ? 'brew install ffmpeg, or set FFMPEG_BIN'
          : platform === 'win32'
            ? 'winget install ffmpeg, or set FFMPEG_BIN'
            : "apt install ffmpeg (or your distribution's package), or set FFMPEG_BIN / capture.ffmpegPath",
    });
  }

  const devs = await listDevices(env, ffmpegPath, platform);
  if (platform === 'linux') {
    const displayProblem = devs.problems.find((p) => /DISPLAY|X server|xwininfo/.test(p));
    add(
      devs.displays.length
        ? { id: 'display', status: 'ok', summary: `X server ${env.DISPLAY}: ${devs.displays.map((d) => `${d.id} ${d.width}x${d.height}`).join(', ')}` }
        : {
            id: 'display',
            status: 'warn',
            summary: displayProblem ?? 'no display found',
            fix: env.WAYLAND_DISPLAY
              ? 'screen capture needs X11 or XWayland: log in to an X11 session, or record the audio profile'
              : 'run traced inside your desktop session (DISPLAY set); without one, `full` records audio only',
          },
    );
    const audioProblem = devs.problems.find((p) => /pactl|PulseAudio/.test(p));
    add(
      devs.audio.length
        ? {
            id: 'audio',
            status: 'ok',
            summary: `audio server answers: ${devs.audio.length} sources, default ${devs.audio.find((a) => a.default)?.name ?? 'none'}`,
          }
        : {
            id: 'audio',
            status: 'warn',
            summary: audioProblem ?? 'no audio source found',
            fix: audioProblem?.includes('not installed')
              ? 'apt install pulseaudio-utils'
              : 'start PulseAudio or PipeWire (pipewire-pulse) in your session; the mic channel needs it',
          },
    );
  } else {
    add({
      id: 'devices',
      status: devs.problems.length ? 'warn' : 'ok',
      summary: `${devs.displays.length} displays, ${devs.audio.length} audio sources${devs.problems.length ? `: ${devs.problems.join('; ')}` : ''}`,
      ...(devs.problems.length
        ? {
            fix:
              platform === 'darwin'
                ? 'System Settings → Privacy & Security: allow Screen Recording and Microphone for your terminal (or the traced service)'
                : 'see the problem above',
          }
        : {}),
    });
  }

  if (config && paths) {
    const [ocr, speech] = await Promise.all([
      chooseOcr({ enabled: config.index.ocr.enabled, engine: config.index.ocr.engine, env }),
      chooseSpeech({
        enabled: config.index.speech.enabled,
        engine: config.index.speech.engine,
        modelFile: pickModel(path.join(paths.home, 'models'), config.index.speech.model),
        env,
      }),
    ]);
    add(
      ocr.engine
        ? {
            id: 'ocr',
            status: ocr.engine.name === 'tesseract' ? 'ok' : 'warn',
            summary: `on-screen text: ${ocr.engine.name} (${ocr.reason})`,
            ...(ocr.engine.name === 'tesseract' ? {} : { fix: 'apt install tesseract-ocr / brew install tesseract: about 2x faster' }),
          }
        : { id: 'ocr', status: 'warn', summary: `on-screen text is not indexed: ${ocr.reason}`, fix: 'apt install tesseract-ocr / brew install tesseract' },
    );
    // Which engine transcribes, and the one step that gets a better one (whisper.cpp: pocketsphinx finds 5% of the key phrases in bench/speech-recall and is opt-in).
    const whisper = speech.engine?.name.startsWith('whisper') === true;
    const asked = config.index.speech.engine;
    const canWhisper = whisperAvailable();
    const pull =
      asked === 'pocketsphinx'
        ? 'traced models pull base.en (142 MB), set "index": {"speech": {"engine": "auto"}} and restart the daemon: whisper.cpp is far more accurate than pocketsphinx'
        : 'traced models pull base.en (142 MB): whisper.cpp; the running daemon switches to it within 30 s and transcribes the audio that waited';
    const onlyPocketsphinx =
      'set "index": {"speech": {"engine": "pocketsphinx"}} (apt install pocketsphinx pocketsphinx-en-us): the only engine for this platform, and a weak one';
    add(
      !config.index.speech.enabled
        ? { id: 'speech', status: 'ok', summary: 'speech is not transcribed: index.speech.enabled is false' }
        : speech.engine
          ? {
              id: 'speech',
              status: whisper ? 'ok' : 'warn',
              summary: `speech: ${speech.engine.name} will transcribe (${speech.reason})`,
              ...(whisper || !canWhisper ? {} : { fix: pull }),
            }
          : {
              id: 'speech',
              status: 'warn',
              summary: `speech is not transcribed: ${speech.reason}`,
              fix: asked === 'pocketsphinx' ? 'apt install pocketsphinx pocketsphinx-en-us' : canWhisper ? pull : onlyPocketsphinx,
            },
    );
  }

  if (paths) {
    const p = paths;
    const running = platform === 'win32' || fs.existsSync(p.socket) ? await probeSocket(p.socket) : false;
    const home = homeProblem(p.home);
    add(
      home
        ? {
            id: 'home',
            status: 'fail',
            summary: `${ErrorCodes.HOME_UNWRITABLE}: ${home}`,
            fix: `set TRACED_HOME to a directory you can write, or make ${p.home} yours and writable`,
          }
        : { id: 'home', status: 'ok', summary: `${p.home} can be written` },
    );
    let dir: fs.Stats | undefined;
    try {
      dir = fs.lstatSync(p.socketDir);
    } catch {
      // created at the first start (ENOTDIR: a file above it, found when the daemon starts)
    }
    const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
    const mode = dir ? `0${(dir.mode & 0o777).toString(8)}` : '';
    const other = (fix: string) => `${fix}, or set TRACED_SOCKET_DIR to a private directory of yours`;
    if (!dir || platform === 'win32') {
      add({
        id: 'socket',
        status: 'ok',
        summary: running ? `daemon answers on ${p.socket}` : `daemon not running (socket ${p.socket}); the first command starts it`,
      });
    } else if (dir.isSymbolicLink() || (uid !== undefined && dir.uid !== uid)) {
      add({
        id: 'socket',
        status: 'fail',
        summary: `${ErrorCodes.SOCKET_DIR_INSECURE}: socket directory ${p.socketDir} is ${dir.isSymbolicLink() ? 'a symlink' : `owned by uid ${dir.uid}`}`,
        fix: other(`remove ${p.socketDir}`),
      });
    } else if (!dir.isDirectory()) {
      add({
        id: 'socket',
        status: 'fail',
        summary: `${ErrorCodes.SOCKET_DIR_UNUSABLE}: socket directory ${p.socketDir} is a file, not a directory`,
        fix: other(`move ${p.socketDir} away`),
      });
    } else if ((dir.mode & 0o700) !== 0o700) {
      add({
        id: 'socket',
        status: 'fail',
        summary: `${ErrorCodes.SOCKET_DIR_UNUSABLE}: socket directory ${p.socketDir} has mode ${mode}: the daemon cannot create its socket there`,
        fix: other(`chmod 700 ${p.socketDir}`),
      });
    } else if ((dir.mode & 0o077) !== 0) {
      add({
        id: 'socket',
        status: 'fail',
        summary: `socket directory ${p.socketDir} is open to others (mode ${mode.slice(1)})`,
        fix: `chmod 700 ${p.socketDir}`,
      });
    } else {
      add({
        id: 'socket',
        status: 'ok',
        summary: running ? `daemon answers on ${p.socket}` : `daemon not running (socket ${p.socket}); the first command starts it`,
      });
    }

    const free = freeBytes(p.home);
    if (free === undefined) {
      add({ id: 'disk', status: 'warn', summary: `cannot read free space of ${p.home}` });
    } else {
      const summary = `${bytes(free)} free on the disk holding ${p.home}`;
      add(
        free < FAIL_FREE_BYTES
          ? {
              id: 'disk',
              status: 'fail',
              summary: `disk full: ${summary}`,
              fix: `free space on that disk or move the data (TRACED_HOME); recording stops below ${bytes(FAIL_FREE_BYTES)}`,
              data: { free_bytes: free },
            }
          : free < WARN_FREE_BYTES
            ? {
                id: 'disk',
                status: 'warn',
                summary: `low on space: ${summary}`,
                fix: 'free space or prune old sessions; screen + mic take about 40 MB per hour',
                data: { free_bytes: free },
              }
            : { id: 'disk', status: 'ok', summary, data: { free_bytes: free } },
      );
    }

    if (fs.existsSync(p.db)) {
      try {
        const { default: Database } = await import('better-sqlite3');
        const db = new Database(p.db, { readonly: true, fileMustExist: true });
        try {
          const res = db.pragma('integrity_check', { simple: true });
          add(
            res === 'ok'
              ? { id: 'database', status: 'ok', summary: `database ${p.db} passes integrity_check` }
              : { id: 'database', status: 'fail', summary: `${ErrorCodes.DB_CORRUPT}: database ${p.db} is damaged: ${String(res)}`, fix: REBUILD_FIX },
          );
          // Queue health, read where the daemon keeps it.
          const counts = Object.fromEntries(
            (db.prepare('SELECT state, COUNT(*) AS n FROM upload_jobs GROUP BY state').all() as { state: string; n: number }[]).map((r) => [r.state, r.n]),
          );
          const failed = counts.failed ?? 0;
          const pending = (counts.pending ?? 0) + (counts.in_flight ?? 0);
          add(
            failed
              ? {
                  id: 'queue',
                  status: 'warn',
                  summary: `${failed} uploads failed, ${pending} waiting, ${counts.done ?? 0} done`,
                  fix: 'traced queue shows why; traced queue retry sends them again',
                }
              : {
                  id: 'queue',
                  status: 'ok',
                  summary: config?.videodb.apiKey
                    ? `uploads: ${pending} waiting, ${counts.done ?? 0} done`
                    : 'uploads off (no VideoDB key): everything stays local',
                },
          );
        } finally {
          db.close();
        }
      } catch (err) {
        const code = String((err as { code?: unknown }).code ?? '');
        add(
          code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')
            ? {
                id: 'database',
                status: 'fail',
                summary: `${ErrorCodes.DB_CORRUPT}: ${p.db} is not a readable database (${(err as Error).message})`,
                fix: `restart the daemon (traced service stop and start, or end the traced daemon process): at its start it moves the file aside and rebuilds it from the session folders`,
              }
            : { id: 'database', status: 'fail', summary: `database ${p.db} cannot be read: ${(err as Error).message}`, fix: "check the file's permissions" },
        );
      }
    } else {
      add({ id: 'database', status: 'ok', summary: `no database yet (${path.basename(p.db)} is created at the first start)` });
    }
    const moved = movedAsideDbs(p.db);
    const last = moved[moved.length - 1];
    if (last) {
      add({
        id: 'db-moved',
        status: 'warn',
        summary: `${ErrorCodes.DB_CORRUPT}: a damaged traced.db was moved aside to ${last}${moved.length > 1 ? ` (${moved.length} times in all)` : ''} and the database rebuilt from the session folders`,
        fix: `nothing to repair; keep ${last} for a bug report, or delete it (and its -wal, -shm) to silence this`,
        data: { code: ErrorCodes.DB_CORRUPT, moved },
      });
    }
  }
  try {
    const st = await serviceState(env, platform === 'darwin' ? 'launchd' : platform === 'win32' ? 'windows' : 'systemd');
    add(
      st.installed
        ? { id: 'service', status: 'ok', summary: `${st.manager}: installed, ${st.active}${st.answering ? '; the daemon answers' : ''}` }
        : {
            id: 'service',
            status: 'ok',
            summary: `not installed as a ${st.manager} service (traced starts on demand); traced service install makes it start at login`,
          },
    );
  } catch (err) {
    add({ id: 'service', status: 'warn', summary: `cannot tell the service state: ${(err as Error).message}` });
  }
  add({ id: 'mcp', ...clientsSummary(env, process.cwd()) });
  return { ok: checks.every((c) => c.status !== 'fail'), checks };
}

/** The report as lines for a person: a mark per check, the fix under each problem. */
export function renderDoctor(r: DoctorReport): string {
  const mark = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const;
  const lines: string[] = [];
  for (const c of r.checks) {
    lines.push(`${mark[c.status]}  ${c.id.padEnd(9)} ${c.summary}`);
    if (c.fix && c.status !== 'ok') lines.push(`      ${''.padEnd(9)} fix: ${c.fix}`);
  }
  const fails = r.checks.filter((c) => c.status === 'fail').length;
  const warns = r.checks.filter((c) => c.status === 'warn').length;
  lines.push(
    fails
      ? `${fails} problem${fails > 1 ? 's' : ''} to fix${warns ? `, ${warns} warning${warns > 1 ? 's' : ''}` : ''}.`
      : warns
        ? `Ready, with ${warns} warning${warns > 1 ? 's' : ''}.`
        : 'Everything traced needs is in place.',
  );
  return lines.join('\n');
}
