/**
 * A long, ended session written straight into a home's store before its
 * daemon starts (heavy reads, big replies): one event every 100 ms from
 * 2026-01-01 09:00 UTC, each made by `make(i)` and indexed like recorded ones.
 */
import fs from 'node:fs';
import path from 'node:path';
import { eventText } from '../../src/timeline/event-text.js';
import { Store } from '../../src/timeline/store.js';
import type { Home } from './env.js';

export function seedLongSession(home: Home, sid: string, n: number, make: (i: number) => { type: string; data: Record<string, unknown> }): void {
  fs.mkdirSync(path.join(home.home, 'sessions'), { recursive: true });
  const store = new Store(path.join(home.home, 'traced.db'));
  const t0 = Date.parse('2026-01-01T09:00:00Z');
  store.insertSession({ id: sid, project: '/p', label: null, profile: 'events', state: 'recording', started_at: t0, meta: '{}' });
  for (let i = 1; i <= n; ) {
    const batch = [];
    for (let k = 0; k < 5000 && i <= n; k++, i++) {
      const { type, data } = make(i);
      batch.push({
        session_id: sid,
        seq: i,
        parent_seq: null,
        ts: t0 + i * 100,
        offset_ms: i * 100,
        channel: type.split('.')[0] as string,
        type,
        data,
        text: eventText(type, data),
      });
    }
    store.appendEvents(batch);
  }
  store.endSession(sid, { state: 'ended', ended_at: t0 + n * 100, end_offset_ms: n * 100 });
  store.close();
}
