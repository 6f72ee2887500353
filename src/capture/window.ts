/**
 * `window`: the focused window's title and application. X11 through xdotool
 * (+ xprop for the class), macOS through osascript, Windows through
 * PowerShell. Where none works the channel reports `unavailable` and the
 * session goes on without it.
 *
 * On X11 the focused window is watched, not polled: one `xev` on it reports
 * when focus leaves it (FocusOut) or its title or class changes
 * (PropertyNotify), and only then is it read again — a poll ran three helper
 * processes a second, ~17 ms of CPU each time, about a quarter of what the
 * bare screen and microphone capture costs. A slow poll (`WATCHED_POLL_MS`)
 * stays as a safety net; with no xev, or while nothing has focus, it polls
 * at `pollMs` as before.
 */
import type { ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import type { ChannelContext, ChannelDriver } from './channel.js';
import { hasCommand, run, spawnTied, type RunOptions } from './proc.js';

export interface FocusedWindow {
  title: string;
  app: string;
  /** The X window id, where there is one (not reported: only used to watch the window). */
  id?: string;
}

/** With the focused window watched, a poll only this often, in case an event was missed. */
const WATCHED_POLL_MS = 15_000;
/** Events come in bursts (a title set twice, FocusOut then FocusIn): read once, this long after the first. */
const SETTLE_MS = 40;
/**
 * Reads on xev's word are a token bucket: a few at once (a focus move, then a title set right
 * after), then one a second — a window that retitles itself many times a second (a spinner, a
 * clock in the title) costs what the one-second poll cost, never more.
 */
const READ_BURST = 3;
const READ_EVERY_MS = 1000;
/** An xev that ends this soon after it started, this many times in a row, is not used again. */
const QUICK_EXIT_MS = 2000;
/** How long xev takes to start listening, generously. */
const XEV_START_MS = 300;
const MAX_QUICK_EXITS = 3;
/** The longest window title or application name kept; controls are taken out. */
const MAX_TITLE = 1024;

export type WindowProbe = (env: RunOptions['env']) => Promise<FocusedWindow | undefined>;

/** Parses `WM_CLASS(STRING) = "xterm", "XTerm"` into the class name. */
export function parseWmClass(out: string): string {
  const m = /WM_CLASS\([^)]*\)\s*=\s*"([^"]*)"(?:,\s*"([^"]*)")?/.exec(out);
  return m ? m[2] || m[1] || '' : '';
}

async function probeX11(env: RunOptions['env']): Promise<FocusedWindow | undefined> {
  // getwindowfocus works without a window manager (bare Xvfb); getactivewindow needs EWMH.
  const id = await run('xdotool', ['getwindowfocus'], { env, timeoutMs: 2000 });
  if (id.code !== 0) return undefined;
  const wid = id.stdout.trim();
  const [name, cls] = await Promise.all([
    run('xdotool', ['getwindowname', wid], { env, timeoutMs: 2000 }),
    run('xprop', ['-id', wid, 'WM_CLASS'], { env, timeoutMs: 2000 }),
  ]);
  return { title: name.code === 0 ? name.stdout.trim() : '', app: cls.code === 0 ? parseWmClass(cls.stdout) : '', id: wid };
}

/** A title as text: controls (newlines, escape sequences a program put in its title) out, at most `MAX_TITLE` characters. */
export function cleanTitle(s: string): string {
  return s
    .replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b\[[0-?]*[ -/]*[@-~]/g, '')
    .replace(/[\x00-\x1f\x7f-\x9f]+/g, ' ')
    .trim()
    .slice(0, MAX_TITLE)
    .replace(/[\ud800-\udbff]$/, '');
}

/** The xev output lines that mean the focused window may have changed: focus moved, or its title or class. */
export function isWindowChange(line: string): boolean {
  return /^Focus(Out|In) event/.test(line) || /\batom 0x[0-9a-f]+ \((WM_NAME|_NET_WM_NAME|WM_CLASS)\)/.test(line);
}

/** One `xev` on the focused X window; `changed` when it says focus left or the title changed, or when it exits. */
class XevWatch {
  private child: ChildProcess | undefined;
  private wid: string | undefined;

  constructor(
    private readonly env: RunOptions['env'],
    private readonly changed: () => void,
  ) {}

  private startedAt = 0;
  private quickExits = 0;
  /** xev ended at once too often (an xev without -event, a broken X connection): the channel polls. */
  broken = false;

  get watching(): boolean {
    return this.child !== undefined;
  }

  watch(wid: string): void {
    if (this.broken || !/^\d+$/.test(wid)) {
      this.stop();
      return;
    }
    if (wid === this.wid && this.child) return;
    this.stop();
    this.startedAt = Date.now();
    const child = spawnTied('xev', ['-id', wid, '-event', 'focus', '-event', 'property'], {
      stdio: ['ignore', 'pipe', 'ignore'],
      env: this.env as NodeJS.ProcessEnv,
    });
    this.child = child;
    this.wid = wid;
    child.once('error', () => undefined);
    if (child.stdout)
      readline.createInterface({ input: child.stdout, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (l) => isWindowChange(l) && this.changed());
    // A change between the read that found this window and xev listening would go unseen until the
    // slow poll: read once more when xev has had time to start.
    const ready = setTimeout(() => this.child === child && this.changed(), XEV_START_MS);
    ready.unref();
    child.once('exit', () => {
      clearTimeout(ready);
      // The window is gone (xev ends with BadWindow), or xev was stopped: read the focus again.
      if (this.child !== child) return;
      this.child = undefined;
      this.wid = undefined;
      this.quickExits = Date.now() - this.startedAt < QUICK_EXIT_MS ? this.quickExits + 1 : 0;
      if (this.quickExits >= MAX_QUICK_EXITS) this.broken = true;
      this.changed();
    });
  }

  stop(): void {
    const c = this.child;
    this.child = undefined;
    this.wid = undefined;
    if (c && c.exitCode === null) c.kill('SIGKILL');
  }
}

async function probeMac(env: RunOptions['env']): Promise<FocusedWindow | undefined> {
  const script =
    'tell application "System Events"\nset p to first application process whose frontmost is true\nset t to ""\ntry\nset t to name of front window of p\nend try\nreturn (name of p) & "\n" & t\nend tell';
  const res = await run('osascript', ['-e', script], { env, timeoutMs: 3000 });
  if (res.code !== 0) return undefined;
  const [app = '', title = ''] = res.stdout.trim().split('\n');
  return { app, title };
}

async function probeWindows(env: RunOptions['env']): Promise<FocusedWindow | undefined> {
  const ps =
    'Add-Type @"\nusing System;using System.Runtime.InteropServices;using System.Text;\npublic class W{[DllImport("user32.dll")]public static extern IntPtr GetForegroundWindow();[DllImport("user32.dll")]public static extern int GetWindowText(IntPtr h,StringBuilder s,int n);[DllImport("user32.dll")]public static extern uint GetWindowThreadProcessId(IntPtr h,out uint p);}\n"@\n$h=[W]::GetForegroundWindow();$s=New-Object System.Text.StringBuilder 512;[void][W]::GetWindowText($h,$s,512);$p=0;[void][W]::GetWindowThreadProcessId($h,[ref]$p);(Get-Process -Id $p).ProcessName;$s.ToString()';
  const res = await run('powershell.exe', ['-NoProfile', '-NonInteractive', '-Command', ps], { env, timeoutMs: 5000 });
  if (res.code !== 0) return undefined;
  const [app = '', title = ''] = res.stdout.trim().split(/\r?\n/);
  return { app, title };
}

/** Picks the probe for this platform, or explains why there is none. */
export function windowProbeFor(platform: NodeJS.Platform, env: RunOptions['env']): WindowProbe | string {
  if (platform === 'darwin') return probeMac;
  if (platform === 'win32') return probeWindows;
  if (!env?.DISPLAY) return env?.WAYLAND_DISPLAY ? 'Wayland without X: focused window is not readable' : 'no DISPLAY: no X server to ask';
  return probeX11;
}

export class WindowChannel implements ChannelDriver {
  readonly id = 'window';
  readonly kind = 'event' as const;
  private timer: NodeJS.Timeout | undefined;
  private last = '';
  private polling: Promise<void> = Promise.resolve();
  private stopped = false;
  private running = false;
  private again = false;
  private tick: (() => void) | undefined;
  private watcher: XevWatch | undefined;
  /** A read on xev's word, pending. */
  private settle: NodeJS.Timeout | undefined;
  private reads = READ_BURST;
  private readsAt = 0;

  constructor(
    private readonly pollMs: number,
    private readonly platform: NodeJS.Platform = process.platform,
    private readonly probeOverride?: WindowProbe,
  ) {}

  async start(ctx: ChannelContext): Promise<void> {
    const probe = this.probeOverride ?? windowProbeFor(this.platform, ctx.env);
    if (typeof probe === 'string') {
      ctx.setHealth('unavailable', probe);
      return;
    }
    const first = await probe(ctx.env).catch(() => undefined);
    if (first) {
      this.report(ctx, first);
      ctx.setHealth('running');
    } else if (
      !this.probeOverride &&
      this.platform === 'linux' &&
      (await run('xdotool', ['getdisplaygeometry'], { env: ctx.env, timeoutMs: 2000 })).code === 0
    ) {
      // The X server answers but nothing has focus yet (a bare X server, a locked screen): keep watching.
      ctx.setHealth('running', 'no window has focus yet');
    } else {
      ctx.setHealth('unavailable', this.platform === 'linux' ? 'xdotool/xprop missing or the X server does not answer' : 'the focused window cannot be read');
      return;
    }
    const watch = !this.probeOverride && this.platform === 'linux' && (await hasCommand('xev', ctx.env)) ? new XevWatch(ctx.env, () => this.soon()) : undefined;
    this.watcher = watch;
    this.tick = () => {
      if (this.stopped) return;
      if (this.timer) clearTimeout(this.timer);
      if (this.settle) clearTimeout(this.settle);
      this.timer = undefined;
      this.settle = undefined;
      this.running = true;
      this.polling = probe(ctx.env)
        .then((w) => {
          // Stopped while the probe ran: report nothing, watch nothing.
          if (this.stopped) return;
          if (w) {
            if (!this.last) ctx.setHealth('running');
            this.report(ctx, w);
          }
          if (watch) {
            if (w?.id) watch.watch(w.id);
            else watch.stop();
          }
        })
        .catch((err: unknown) => ctx.logger.debug({ err }, 'window probe failed'))
        .finally(() => {
          this.running = false;
          if (this.stopped) return;
          if (this.again) {
            this.again = false;
            this.soon();
          }
          // The next poll: slow while xev watches (a safety net), `pollMs` otherwise. Reads on xev's word
          // have their own timer: a stream of them cannot keep the poll from coming.
          if (!this.timer) this.timer = setTimeout(() => this.tick?.(), watch?.watching ? WATCHED_POLL_MS : this.pollMs);
        });
    };
    if (first?.id) watch?.watch(first.id);
    this.timer = setTimeout(() => this.tick?.(), watch?.watching ? WATCHED_POLL_MS : this.pollMs);
  }

  /**
   * The watched window says something changed: read the focus soon — once per burst of events, within
   * the read bucket (a deadline that later events do not push back).
   */
  private soon(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.settle) return;
    const now = Date.now();
    this.reads = Math.min(READ_BURST, this.reads + (now - this.readsAt) / READ_EVERY_MS);
    this.readsAt = now;
    const wait = this.reads >= 1 ? SETTLE_MS : Math.max(SETTLE_MS, (1 - this.reads) * READ_EVERY_MS);
    this.reads -= 1;
    this.settle = setTimeout(() => this.tick?.(), wait);
  }

  private report(ctx: ChannelContext, w: FocusedWindow): void {
    const title = cleanTitle(w.title);
    const app = cleanTitle(w.app);
    const key = `${app}\u0000${title}`;
    if (key === this.last) return;
    this.last = key;
    ctx.emit('window.focus', { title, app });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.settle) clearTimeout(this.settle);
    this.watcher?.stop();
    await this.polling;
  }
}
