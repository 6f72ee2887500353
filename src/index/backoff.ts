/**
 * When the indexer waits instead of working. Indexing is deferred, never
 * dropped: a deferred segment stays in the backlog (status.indexer says how
 * many and how much recording, and why it waits) and is indexed as soon as
 * the reason goes away, the backlog reaches its bound, or recording stops.
 *
 * Policy:
 * - only while a session is recording: once it stops, the user is about to
 *   ask about it, so everything is caught up at once;
 * - on battery (Linux: a power supply of type Battery reports Discharging),
 *   until a kind is `batteryMaxBehindMs` of recording behind;
 * - when the machine is busy (1-minute load average above
 *   `busyLoadPerCore` × cores), until `busyMaxBehindMs` behind.
 * Helpers run under `nice -n 15` in any case: on a busy machine they get
 * what is left; deferring also saves the energy while the user works.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface BackoffPolicy {
  busyLoadPerCore: number;
  busyMaxBehindMs: number;
  batteryMaxBehindMs: number;
}

export const BACKOFF: BackoffPolicy = { busyLoadPerCore: 1.5, busyMaxBehindMs: 5 * 60_000, batteryMaxBehindMs: 30 * 60_000 };

export interface MachineState {
  recording: boolean;
  onBattery: boolean;
  load1: number;
  cores: number;
  /** Recording (ms) this kind is behind already. */
  behindMs: number;
}

/** Why indexing waits now, or undefined when it goes ahead. */
export function deferral(p: BackoffPolicy, m: MachineState): string | undefined {
  if (!m.recording) return undefined;
  if (m.onBattery && m.behindMs < p.batteryMaxBehindMs) return 'on battery: indexing waits until recording stops or AC power returns';
  if (m.load1 > p.busyLoadPerCore * m.cores && m.behindMs < p.busyMaxBehindMs) {
    return `machine busy (load ${m.load1.toFixed(1)} on ${m.cores} cores): indexing waits until it calms down or recording stops`;
  }
  return undefined;
}

/** True when a battery is discharging (Linux sysfs); false where that cannot be told. */
export function onBattery(root = '/sys/class/power_supply'): boolean {
  try {
    for (const name of fs.readdirSync(root)) {
      const read = (f: string) => {
        try {
          return fs.readFileSync(path.join(root, name, f), 'utf8').trim();
        } catch {
          return '';
        }
      };
      if (read('type') === 'Battery' && read('status') === 'Discharging') return true;
    }
  } catch {
    // no sysfs power supplies: a desktop, a container, another platform
  }
  return false;
}

/** The machine as the policy sees it; the battery is looked at most every 30 s. */
export class Machine {
  private battery = { at: 0, value: false };
  constructor(private readonly powerRoot?: string) {}

  state(recording: boolean, behindMs: number): MachineState {
    const now = Date.now();
    if (now - this.battery.at > 30_000) this.battery = { at: now, value: onBattery(this.powerRoot) };
    return { recording, onBattery: this.battery.value, load1: os.loadavg()[0] ?? 0, cores: os.availableParallelism(), behindMs };
  }
}
