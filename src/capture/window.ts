/**
 * `window`: the focused window's title and application, polled. X11 through
 * xdotool (+ xprop for the class), macOS through osascript, Windows through
 * PowerShell. Where none works the channel reports `unavailable` and the
 * session goes on without it.
 */
import type { ChannelContext, ChannelDriver } from './channel.js';
import { run, type RunOptions } from './proc.js';

export interface FocusedWindow {
  title: string;
  app: string;
}

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
  return { title: name.code === 0 ? name.stdout.trim() : '', app: cls.code === 0 ? parseWmClass(cls.stdout) : '' };
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
    const tick = () => {
      this.polling = probe(ctx.env)
        .then((w) => {
          if (w) {
            if (!this.last) ctx.setHealth('running');
            this.report(ctx, w);
          }
        })
        .catch((err: unknown) => ctx.logger.debug({ err }, 'window probe failed'))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.pollMs);
        });
    };
    this.timer = setTimeout(tick, this.pollMs);
  }

  private report(ctx: ChannelContext, w: FocusedWindow): void {
    const key = `${w.app}\u0000${w.title}`;
    if (key === this.last) return;
    this.last = key;
    ctx.emit('window.focus', { title: w.title, app: w.app });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling;
  }
}
