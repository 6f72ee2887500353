/**
 * `traced service install|uninstall|status|start|stop|logs`: the daemon under
 * the platform's user service manager, from the definitions kept in
 * `launchd/`, `systemd/` and `windows/`, with absolute paths to this Node and
 * this entry point written in at install time. `--dry-run` prints what would
 * be written and run, and changes nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './capture/proc.js';
import type { Env } from './config/config.js';
import { probeSocket } from './ipc/probe.js';
import { setup } from './config/setup.js';
import { ErrorCodes, TracedError } from './errors.js';

export type Manager = 'launchd' | 'systemd' | 'windows';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LABEL = 'dev.traced.daemon';

export interface ServicePlan {
  manager: Manager;
  /** Where the definition goes. */
  file: string;
  content: string;
  /** Commands that load and start it (install), in order. */
  install: string[][];
  uninstall: string[][];
  start: string[][];
  stop: string[][];
  status: string[];
}

export function managerFor(platform: NodeJS.Platform = process.platform): Manager {
  if (platform === 'darwin') return 'launchd';
  if (platform === 'win32') return 'windows';
  return 'systemd';
}

/** Fills a template's {{NAME}} placeholders (XML-escaped for the XML formats). */
export function render(template: string, vars: Record<string, string>, xml: boolean): string {
  return template.replace(/\{\{([A-Z_]+)\}\}/g, (_, k: string) => {
    const v = vars[k];
    if (v === undefined) throw new TracedError(ErrorCodes.CONFIG_INVALID, `the service template needs ${k}`);
    return xml ? v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;') : v;
  });
}

export function servicePlan(
  env: Env,
  manager: Manager = managerFor(),
  opts: { node?: string; entry?: string; userHome?: string; user?: string; uid?: number } = {},
): ServicePlan {
  const { paths } = setup(env);
  const vars = {
    NODE: opts.node ?? process.execPath,
    ENTRY: opts.entry ?? path.join(ROOT, 'bin', 'traced.js'),
    HOME: paths.home,
    LOG_DIR: paths.logDir,
    PATH: env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    DOCS: path.join(ROOT, 'docs', 'service.md'),
    USER: opts.user ?? env.USERNAME ?? env.USER ?? os.userInfo().username,
  };
  const userHome = opts.userHome ?? env.HOME ?? os.homedir();
  if (manager === 'launchd') {
    const file = path.join(userHome, 'Library', 'LaunchAgents', `${LABEL}.plist`);
    const domain = `gui/${opts.uid ?? process.getuid?.() ?? 501}`;
    return {
      manager,
      file,
      content: render(fs.readFileSync(path.join(ROOT, 'launchd', `${LABEL}.plist`), 'utf8'), vars, true),
      install: [['launchctl', 'bootstrap', domain, file]],
      uninstall: [['launchctl', 'bootout', `${domain}/${LABEL}`]],
      start: [['launchctl', 'kickstart', `${domain}/${LABEL}`]],
      stop: [['launchctl', 'kill', 'SIGTERM', `${domain}/${LABEL}`]],
      status: ['launchctl', 'print', `${domain}/${LABEL}`],
    };
  }
  if (manager === 'systemd') {
    const file = path.join(env.XDG_CONFIG_HOME ?? path.join(userHome, '.config'), 'systemd', 'user', 'traced.service');
    return {
      manager,
      file,
      content: render(fs.readFileSync(path.join(ROOT, 'systemd', 'traced.service'), 'utf8'), vars, false),
      install: [
        ['systemctl', '--user', 'import-environment', 'DISPLAY', 'WAYLAND_DISPLAY', 'XAUTHORITY'],
        ['systemctl', '--user', 'daemon-reload'],
        ['systemctl', '--user', 'enable', '--now', 'traced.service'],
      ],
      uninstall: [
        ['systemctl', '--user', 'disable', '--now', 'traced.service'],
        ['systemctl', '--user', 'daemon-reload'],
      ],
      start: [['systemctl', '--user', 'start', 'traced.service']],
      stop: [['systemctl', '--user', 'stop', 'traced.service']],
      status: ['systemctl', '--user', 'is-active', 'traced.service'],
    };
  }
  const file = path.join(paths.home, 'traced-task.xml');
  return {
    manager,
    file,
    content: render(fs.readFileSync(path.join(ROOT, 'windows', 'traced-task.xml'), 'utf8'), vars, true),
    install: [
      ['schtasks', '/Create', '/TN', 'traced', '/XML', file, '/F'],
      ['schtasks', '/Run', '/TN', 'traced'],
    ],
    uninstall: [
      ['schtasks', '/End', '/TN', 'traced'],
      ['schtasks', '/Delete', '/TN', 'traced', '/F'],
    ],
    start: [['schtasks', '/Run', '/TN', 'traced']],
    stop: [['schtasks', '/End', '/TN', 'traced']],
    status: ['schtasks', '/Query', '/TN', 'traced'],
  };
}

/** Writes the definition (UTF-16 with a BOM for Task Scheduler, as it expects). */
export function writeDefinition(plan: ServicePlan): void {
  fs.mkdirSync(path.dirname(plan.file), { recursive: true });
  if (plan.manager === 'windows') fs.writeFileSync(plan.file, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(plan.content, 'utf16le')]));
  else fs.writeFileSync(plan.file, plan.content, { mode: 0o644 });
}

export async function runSteps(steps: string[][], env: Env): Promise<{ cmd: string; code: number | null; out: string }[]> {
  const out: { cmd: string; code: number | null; out: string }[] = [];
  for (const [cmd, ...args] of steps) {
    const r = await run(cmd as string, args, { env, timeoutMs: 30_000 });
    out.push({ cmd: [cmd, ...args].join(' '), code: r.code, out: (r.stderr || r.stdout).trim() || (r.spawnError?.message ?? '') });
    if (r.code !== 0) break;
  }
  return out;
}

/** Waits until the daemon answers on its socket: how `service start` knows it worked. */
export async function waitReady(env: Env, timeoutMs: number): Promise<boolean> {
  const { paths } = setup(env);
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await probeSocket(paths.socket, 500)) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

export interface ServiceState {
  manager: Manager;
  installed: boolean;
  file: string;
  active: string;
  answering: boolean;
}

export async function serviceState(env: Env, manager: Manager = managerFor()): Promise<ServiceState> {
  const plan = servicePlan(env, manager);
  const { paths } = setup(env);
  const [cmd, ...args] = plan.status;
  const r = fs.existsSync(plan.file) ? await run(cmd as string, args, { env, timeoutMs: 10_000 }) : undefined;
  const active = !r
    ? 'not installed'
    : r.spawnError
      ? `${cmd} is not available`
      : r.code === 0
        ? (r.stdout.trim().split('\n')[0] ?? 'active') || 'active'
        : ((r.stdout.trim() || r.stderr.trim() || `exit ${r.code}`).split('\n')[0] ?? '');
  return { manager, installed: fs.existsSync(plan.file), file: plan.file, active, answering: await probeSocket(paths.socket, 500) };
}
