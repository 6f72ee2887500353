/** Commands that look after traced itself: hook, queue, models, prune, service, doctor, call, daemon, mcp. Heavy parts load only when their command runs. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { findOperation, operations } from '../../api/index.js';
import { ensureHomeDir } from '../../config/paths.js';
import { setup } from '../../config/setup.js';
import { ErrorCodes, TracedError } from '../../errors.js';
import type { QueueStatusOutput } from '../../model.js';
import { VERSION } from '../../version.js';
import { didYouMean } from '../args.js';
import { callDaemon, type Command, num } from '../command.js';
import { bytes } from '../format.js';
import { renderQueue, safeData } from '../render.js';
import { showLogs } from './tools.js';

export const adminCommands: Command[] = [
  {
    name: 'hook',
    summary:
      'a shell snippet that reports each command (cwd, exit code, duration) to traced, with no process per command; --shell: also start terminals under traced shell',
    args: [{ name: 'SHELL', choices: ['bash', 'zsh', 'fish'] }],
    options: { shell: { type: 'boolean', help: 'also start each new terminal under traced shell (its output recorded); safe when nested' } },
    examples: [
      'eval "$(traced hook bash)"    # in ~/.bashrc',
      'eval "$(traced hook zsh)"     # in ~/.zshrc',
      'traced hook fish | source    # in ~/.config/fish/config.fish',
      'eval "$(traced hook bash --shell)"   # and record terminal output too',
    ],
    run: async (a, io) => {
      const shell = a.positionals[0] as 'bash' | 'zsh' | 'fish';
      if (a.values.shell) {
        const { shellOptIn } = await import('./shell.js');
        io.stdout.write(shellOptIn(shell));
      }
      const { paths } = setup(io.env);
      const dir = path.join(paths.home, 'spool');
      ensureHomeDir(paths, dir);
      const { SPOOL_FILE, hookSnippet } = await import('../../capture/terminal.js');
      io.stdout.write(hookSnippet(shell, path.join(dir, SPOOL_FILE)));
      return 0;
    },
  },
  {
    name: 'queue',
    summary: 'the upload queue: what is pending, done and failed; retry failed uploads; pause or resume uploads',
    args: [
      { name: 'ACTION', optional: true, choices: ['status', 'retry', 'pause', 'resume'] },
      { name: 'SESSION', optional: true },
    ],
    examples: ['traced queue', 'traced queue retry last', 'traced queue pause'],
    run: async (a, io) => {
      const [sub = 'status', ref] = a.positionals;
      if (ref !== undefined && sub !== 'retry') throw new TracedError(ErrorCodes.CLI_USAGE, `traced queue ${sub} takes no session (only retry does)`);
      const op = { status: 'queue_status', retry: 'queue_retry', pause: 'queue_pause', resume: 'queue_resume' }[sub] as string;
      const result = (await callDaemon(io, op, sub === 'retry' && ref ? { session: ref } : {})) as QueueStatusOutput | { requeued: number };
      if (a.values.json) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      else
        io.stdout.write(
          `${'requeued' in result ? `Requeued ${result.requeued} failed upload${result.requeued === 1 ? '' : 's'}.` : renderQueue(safeData(result))}\n`,
        );
      return 0;
    },
  },
  {
    name: 'models',
    summary: 'speech models for local transcripts: what is installed; download one (verified against its published SHA-1)',
    args: [
      { name: 'ACTION', optional: true, choices: ['list', 'pull'] },
      { name: 'NAME', optional: true },
    ],
    examples: ['traced models', 'traced models pull base.en'],
    run: async (a, io) => {
      const { MODEL_CATALOG, listModels, pullModel } = await import('../../index/models.js');
      const [sub = 'list', name, ...extra] = a.positionals;
      if (extra.length || (sub === 'pull' && !name) || !['list', 'pull'].includes(sub)) {
        throw new TracedError(ErrorCodes.CLI_USAGE, `usage: traced models [list|pull NAME]; names: ${MODEL_CATALOG.map((m) => m.name).join(', ')}`);
      }
      const { paths, config } = setup(io.env);
      const dir = path.join(paths.home, 'models');
      if (sub === 'list') {
        const installed = listModels(dir);
        if (a.values.json) io.stdout.write(`${JSON.stringify({ dir, installed, available: MODEL_CATALOG }, null, 2)}\n`);
        else {
          io.stdout.write(
            `${[
              `Models in ${dir}:`,
              ...(installed.length
                ? installed.map((m) => `  ${m.name.padEnd(10)} ${bytes(m.bytes)}  ${m.file}`)
                : [
                    !config.index.speech.enabled
                      ? '  none (speech indexing is off: index.speech.enabled is false)'
                      : config.index.speech.engine === 'pocketsphinx'
                        ? '  none: pocketsphinx transcribes (index.speech.engine). For whisper: traced models pull base.en, set the engine to "auto" and restart the daemon'
                        : '  none: speech is not transcribed until one is installed (the audio waits). Install one: traced models pull base.en',
                  ]),
              'Available:',
              ...MODEL_CATALOG.map((m: { name: string; mb: number; sha1: string }) => `  ${m.name.padEnd(10)} ${String(m.mb).padStart(4)} MB  sha1 ${m.sha1}`),
            ].join('\n')}\n`,
          );
        }
        return 0;
      }
      const tty = (io.stderr as { isTTY?: boolean }).isTTY === true;
      let lastPct = -1;
      const m = await pullModel({
        name: name as string,
        dir,
        baseUrl: io.env.TRACED_MODELS_URL,
        onProgress: (got, total) => {
          const pct = total ? Math.floor((100 * got) / total) : -1;
          if (pct === lastPct || pct < 0) return;
          lastPct = pct;
          if (tty) io.stderr.write(`\rdownloading ${name} ${pct}%`);
          else if (pct % 25 === 0) io.stderr.write(`downloading ${name} ${pct}%\n`);
        },
      });
      if (tty) io.stderr.write('\n');
      io.stdout.write(
        a.values.json
          ? `${JSON.stringify(m, null, 2)}\n`
          : `Installed ${m.name} (${bytes(m.bytes)}, SHA-1 verified) at ${m.file}. A running daemon transcribes with it from its next audio segment on (within 30 s).\n`,
      );
      return 0;
    },
  },
  {
    name: 'prune',
    summary: 'delete the media the retention policy allows (config retention.*); --dry-run only lists it',
    args: [],
    options: { 'dry-run': { type: 'boolean', help: 'list what would be deleted; delete nothing' } },
    op: 'prune',
    params: (a) => ({ dry_run: a.values['dry-run'] === true }),
    render: (r: {
      dry_run: boolean;
      policy: Record<string, number>;
      items: { session_id: string; channel_id: string; seq: number; bytes: number; uploaded: boolean; indexed: boolean; reason: string }[];
      total_bytes: number;
      after_bytes: number;
      freed_bytes: number;
      kept_unuploaded_bytes: number;
      kept_unindexed_bytes: number;
    }) =>
      [
        Object.keys(r.policy).length
          ? `Policy: ${Object.entries(r.policy)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')}`
          : 'No retention policy (set retention.maxDiskGb / maxAgeDays / hardCapGb in config.json): nothing is deleted.',
        ...r.items.map(
          (i) =>
            `  ${r.dry_run ? 'would delete' : 'deleted'} ${i.session_id} ${i.channel_id} #${i.seq} ${bytes(i.bytes)} (${i.reason}${i.uploaded ? '' : ', NOT UPLOADED'}${i.indexed ? '' : ', NOT INDEXED'})`,
        ),
        `Media ${bytes(r.total_bytes)} → ${bytes(r.after_bytes)}${r.dry_run ? ' (dry run: nothing deleted)' : `, freed ${bytes(r.freed_bytes)}`}${r.kept_unuploaded_bytes ? `; ${bytes(r.kept_unuploaded_bytes)} over budget kept because it is not uploaded yet` : ''}${r.kept_unindexed_bytes ? `; ${bytes(r.kept_unindexed_bytes)} kept because it is not indexed yet (traced status says why)` : ''}`,
      ].join('\n'),
  },
  {
    name: 'service',
    summary: 'run traced at login under launchd, systemd (user) or the Windows logon task',
    args: [{ name: 'ACTION', choices: ['install', 'uninstall', 'status', 'start', 'stop', 'logs'] }],
    options: {
      'dry-run': { type: 'boolean', help: 'print what would be written and run; change nothing' },
      lines: { type: 'string', short: 'n', int: true, min: 1, default: '50', help: 'logs: how many of the last lines' },
    },
    examples: ['traced service install --dry-run', 'traced service install', 'traced service status'],
    run: async (a, io) => {
      const { runSteps, servicePlan, serviceState, waitReady, writeDefinition } = await import('../../service.js');
      const sub = a.positionals[0];
      const plan = servicePlan(io.env);
      const dry = a.values['dry-run'] === true;
      const show = (steps: string[][]) => steps.map((s) => `  ${s.join(' ')}`).join('\n');
      const report = (rows: { cmd: string; code: number | null; out: string }[]) => {
        for (const r of rows) io.stdout.write(`${r.code === 0 ? 'ok  ' : 'FAIL'} ${r.cmd}${r.code === 0 ? '' : `: ${r.out}`}\n`);
        return rows.every((r) => r.code === 0);
      };
      switch (sub) {
        case 'install': {
          if (dry) {
            io.stdout.write(`Would write ${plan.file} (${plan.manager}):\n${plan.content}\nThen run:\n${show(plan.install)}\n`);
            return 0;
          }
          writeDefinition(plan);
          io.stdout.write(`Wrote ${plan.file}\n`);
          if (!report(await runSteps(plan.install, io.env))) return 1;
          const ready = await waitReady(io.env, 15_000);
          io.stdout.write(
            ready ? 'traced is running and answers; it starts at every login.\n' : 'Installed, but the daemon does not answer yet: traced service logs\n',
          );
          return ready ? 0 : 1;
        }
        case 'uninstall': {
          if (dry) {
            io.stdout.write(`Would run:\n${show(plan.uninstall)}\nand remove ${plan.file}\n`);
            return 0;
          }
          report(await runSteps(plan.uninstall, io.env));
          fs.rmSync(plan.file, { force: true });
          io.stdout.write(`Removed ${plan.file}; recorded data stays in place.\n`);
          return 0;
        }
        case 'start':
        case 'stop': {
          const steps = sub === 'start' ? plan.start : plan.stop;
          if (dry) {
            io.stdout.write(`Would run:\n${show(steps)}\n`);
            return 0;
          }
          if (!report(await runSteps(steps, io.env))) return 1;
          if (sub === 'start') {
            const ready = await waitReady(io.env, 15_000);
            io.stdout.write(ready ? 'traced answers.\n' : 'Started, but the daemon does not answer: traced service logs\n');
            return ready ? 0 : 1;
          }
          return 0;
        }
        case 'status': {
          const st = await serviceState(io.env);
          io.stdout.write(
            a.values.json
              ? `${JSON.stringify(st, null, 2)}\n`
              : `${st.manager}: ${st.installed ? `installed (${st.file})` : 'not installed'}; ${st.active}; daemon ${st.answering ? 'answers' : 'does not answer'}\n`,
          );
          return 0;
        }
        case 'logs':
          return showLogs(io, { lines: num(a.values.lines, 'lines') ?? 50, json: a.values.json === true, follow: false });
        default:
          throw new TracedError(ErrorCodes.CLI_USAGE, 'usage: traced service install|uninstall|status|start|stop|logs [--dry-run]');
      }
    },
  },
  {
    name: 'doctor',
    args: [],
    summary: 'check ffmpeg, display, audio, devices, socket, disk and database; exit 1 with fixes when something is wrong',
    run: async (a, io) => {
      const { doctor, renderDoctor } = await import('../../doctor.js');
      const report = await doctor(io.env);
      io.stdout.write(a.values.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderDoctor(report)}\n`);
      return report.ok ? 0 : 1;
    },
  },
  {
    name: 'call',
    summary: 'call any operation with JSON params (prints JSON)',
    args: [{ name: 'OPERATION' }, { name: 'JSON', optional: true }],
    examples: ['traced call status', 'traced call replay_at \'{"session":"last","at":"+1:30"}\''],
    run: async (a, io) => {
      const [name = '', json] = a.positionals;
      if (!findOperation(name)) {
        const near = didYouMean(
          name,
          operations.map((o) => o.name),
        );
        throw new TracedError(
          ErrorCodes.CLI_USAGE,
          `no operation ${JSON.stringify(name.slice(0, 40))}${near ? `; did you mean ${near}?` : ''} (operations: ${operations.map((o) => o.name).join(', ')})`,
        );
      }
      let params: unknown = {};
      if (json) {
        try {
          params = JSON.parse(json);
        } catch {
          throw new TracedError(ErrorCodes.CLI_USAGE, 'the params are not valid JSON');
        }
      }
      const result = await callDaemon(io, name, params);
      io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return 0;
    },
  },
  {
    name: 'daemon',
    usage: 'traced daemon',
    summary: 'run the daemon in the foreground (what service managers run)',
    run: async (_a, io) => {
      // Only `traced daemon` loads the daemon (SQLite, watchers, uploaders): every other command stays light.
      const { startDaemon } = await import('../../daemon/main.js');
      const handle = await startDaemon({
        env: io.env,
        cwd: io.cwd,
        onReady: (paths: { socket: string; logDir: string }) =>
          io.stderr.write(`traced daemon ${VERSION} ready on ${paths.socket} (pid ${process.pid}); logs in ${paths.logDir}\n`),
      });
      await handle.done;
      return 0;
    },
  },
  {
    name: 'mcp',
    usage: 'traced mcp [--http [--port N]]',
    summary: 'MCP server for AI assistants: stdio, or Streamable HTTP on 127.0.0.1 behind a bearer token with --http',
    options: {
      http: { type: 'boolean', help: 'serve Streamable HTTP on 127.0.0.1 instead of stdio' },
      port: { type: 'string', int: true, min: 0, max: 65535, default: '7311', help: 'the HTTP port (0: any free one)' },
    },
    run: async (a, io) => {
      const { runMcp, runMcpHttp } = await import('../../mcp/server.js');
      if (!a.values.http) {
        await runMcp({ env: io.env, cwd: io.cwd, stdin: io.stdin, stdout: io.stdout });
        return 0;
      }
      // The token: TRACED_MCP_TOKEN, else one made now and kept in a file only this user can read.
      let token = io.env.TRACED_MCP_TOKEN;
      const { paths } = setup(io.env);
      const tokenFile = path.join(paths.home, 'run', 'mcp-http.token');
      if (!token) {
        ensureHomeDir(paths, path.dirname(tokenFile));
        token = fs.existsSync(tokenFile) ? fs.readFileSync(tokenFile, 'utf8').trim() : crypto.randomBytes(24).toString('base64url');
        fs.writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
      }
      await runMcpHttp({
        env: io.env,
        cwd: io.cwd,
        port: num(a.values.port, 'port') ?? 7311,
        token,
        onListening: (url: string) =>
          io.stderr.write(
            `traced mcp listening on ${url} (Authorization: Bearer <token>${io.env.TRACED_MCP_TOKEN ? ' from TRACED_MCP_TOKEN' : `, the token is in ${tokenFile}`})\n`,
          ),
      });
      return 0;
    },
  },
];
