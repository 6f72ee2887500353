/**
 * The assistant channel: AI-assistant session logs that overlap a traced
 * session and its project become events. Claude Code first: it keeps one
 * JSONL transcript per conversation under `~/.claude/projects/<dir>/` (or
 * `$CLAUDE_CONFIG_DIR/projects`), each line with `type`, `uuid`,
 * `timestamp`, `cwd` and a `message` whose content holds text and tool calls.
 * Prompts, replies and tool calls (with the files they touch) become
 * `agent.prompt`, `agent.message` and `agent.tool_call` events.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { IndexedEvent } from '../index/indexer.js';

export function claudeProjectsDir(env: Readonly<Record<string, string | undefined>>): string {
  return path.join(env.CLAUDE_CONFIG_DIR ?? path.join(env.HOME ?? os.homedir(), '.claude'), 'projects');
}

interface ContentBlock {
  type?: string;
  text?: string;
  name?: string;
  input?: Record<string, unknown>;
}

interface TranscriptLine {
  type?: string;
  uuid?: string;
  sessionId?: string;
  timestamp?: string;
  cwd?: string;
  isMeta?: boolean;
  isSidechain?: boolean;
  message?: { role?: string; content?: string | ContentBlock[]; model?: string };
}

const MAX_TEXT = 4000;
const FILE_KEYS = ['file_path', 'path', 'notebook_path'];

/** Whether `cwd` is the project or inside it. */
function inProject(cwd: string | undefined, project: string): boolean {
  if (!cwd) return false;
  const p = path.resolve(project);
  const c = path.resolve(cwd);
  return c === p || c.startsWith(`${p}${path.sep}`);
}

/**
 * Events from Claude Code transcripts for a project between `from` and `to`
 * (epoch ms), with offsets from `startedAt`. Only files modified after `from`
 * are read.
 */
export function claudeCodeEvents(opts: { dir: string; project: string; from: number; to: number; startedAt: number }): IndexedEvent[] {
  const out: IndexedEvent[] = [];
  let dirs: string[];
  try {
    dirs = fs.readdirSync(opts.dir);
  } catch {
    return out; // no Claude Code here
  }
  for (const d of dirs) {
    const dir = path.join(opts.dir, d);
    let files: string[];
    try {
      files = fs.readdirSync(dir).filter((f) => f.endsWith('.jsonl'));
    } catch {
      continue;
    }
    for (const f of files) {
      const file = path.join(dir, f);
      try {
        if (fs.statSync(file).mtimeMs < opts.from) continue;
      } catch {
        continue;
      }
      for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
        if (!line.trim()) continue;
        let t: TranscriptLine;
        try {
          t = JSON.parse(line) as TranscriptLine;
        } catch {
          continue; // a line being written
        }
        if ((t.type !== 'user' && t.type !== 'assistant') || t.isMeta || !t.timestamp || !t.uuid) continue;
        const ts = Date.parse(t.timestamp);
        if (!(ts >= opts.from && ts <= opts.to) || !inProject(t.cwd, opts.project)) continue;
        const base = {
          agent: 'claude-code',
          conversation: t.sessionId ?? path.basename(f, '.jsonl'),
          uuid: t.uuid,
          ...(t.isSidechain ? { subagent: true } : {}),
        };
        const offset = ts - opts.startedAt;
        const content = t.message?.content;
        const blocks: ContentBlock[] = typeof content === 'string' ? [{ type: 'text', text: content }] : Array.isArray(content) ? content : [];
        if (t.type === 'user') {
          const text = blocks
            .filter((b) => b.type === 'text' && b.text)
            .map((b) => b.text)
            .join('\n')
            .trim();
          // Tool results come back as user lines without text: the calls themselves are recorded below.
          if (text && !text.startsWith('<command-') && !text.startsWith('Caveat:'))
            out.push({ channel: 'agent', type: 'agent.prompt', offset_ms: offset, data: { ...base, text: text.slice(0, MAX_TEXT) } });
          continue;
        }
        const text = blocks
          .filter((b) => b.type === 'text' && b.text)
          .map((b) => b.text)
          .join('\n')
          .trim();
        if (text)
          out.push({
            channel: 'agent',
            type: 'agent.message',
            offset_ms: offset,
            data: { ...base, text: text.slice(0, MAX_TEXT), model: t.message?.model ?? null },
          });
        for (const b of blocks) {
          if (b.type !== 'tool_use' || !b.name) continue;
          const input = b.input ?? {};
          const files = FILE_KEYS.map((k) => input[k]).filter((v): v is string => typeof v === 'string');
          out.push({
            channel: 'agent',
            type: 'agent.tool_call',
            offset_ms: offset,
            data: {
              ...base,
              tool: b.name,
              files,
              ...(typeof input.command === 'string' ? { command: input.command.slice(0, MAX_TEXT) } : {}),
              ...(typeof input.pattern === 'string' ? { pattern: input.pattern } : {}),
            },
          });
        }
      }
    }
  }
  return out.sort((a, b) => a.offset_ms - b.offset_ms);
}
