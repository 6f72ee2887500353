/**
 * What operations may see: the services that own the work, by narrow
 * interfaces (types only: nothing here loads a service). The composition root
 * (src/daemon/main.ts) builds them; tests build them with test/helpers/services.ts.
 */
import type { DeviceList } from '../model.js';
import type { CaptureEnv } from '../model/capture-env.js';
import type { Exporter } from '../export/exporter.js';
import type { UploadQueue } from '../queue/queue.js';
import type { Retention } from '../retention.js';
import type { EventWriter } from '../session/event-writer.js';
import type { Recorder } from '../session/recorder.js';
import type { Replay } from '../timeline/replay.js';
import type { Search } from '../timeline/search.js';
import type { SessionViews } from '../timeline/sessions.js';
import type { TerminalOutput } from '../timeline/terminal-output.js';

export interface Services {
  recorder: Pick<Recorder, 'start' | 'stop' | 'pause' | 'resume' | 'ingest'>;
  events: Pick<EventWriter, 'annotate'>;
  sessions: Pick<SessionViews, 'resolve' | 'clockOf' | 'status' | 'list' | 'get' | 'timeline' | 'transcript'>;
  search: Pick<Search, 'run'>;
  replay: Pick<Replay, 'replayAt' | 'getFrame' | 'cursor' | 'whatHappened' | 'offsetOf'>;
  exporter: Pick<Exporter, 'export' | 'clip' | 'import'>;
  queue: Pick<UploadQueue, 'status' | 'retry' | 'pauseByUser' | 'resume'>;
  retention: Pick<Retention, 'prune'>;
  /** Devices as the caller would record them (its DISPLAY and audio server, else the daemon's). */
  devices: { list(callerEnv?: CaptureEnv): Promise<DeviceList> };
  terminal: Pick<TerminalOutput, 'get' | 'screenAt'>;
}
