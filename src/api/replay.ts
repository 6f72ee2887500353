import { defineOperation } from './operation.js';
import {
  AnnotateInput,
  AnnotateOutput,
  GetFrameInput,
  GetFrameOutput,
  ReplayAtInput,
  ReplayAtOutput,
  ReplayCursorInput,
  ReplayCursorOutput,
  WhatHappenedInput,
  WhatHappenedOutput,
} from '../model.js';

export const replayAt = defineOperation({
  name: 'replay_at',
  title: 'The state of a session at a moment',
  description:
    'Stand at a moment of a session (offset in ms, or a wall time like "14:32"): the events at and just before it, the moments and bookmarks around it, what was being said, ' +
    "the last on-screen text, the focused window, the last saved file and the git HEAD, and the recorded terminal's screen with the command running. Use get_frame for the screen itself.",
  input: ReplayAtInput,
  output: ReplayAtOutput,
  readOnly: true,
  run: async ({ replay, terminal }, input) => {
    const r = replay.replayAt(input);
    return { ...r, terminal: await terminal.screenAt(r.session_id, r.offset_ms) };
  },
});

export const getFrame = defineOperation({
  name: 'get_frame',
  title: 'The screen at a moment',
  description: 'The recorded screen of a session at a moment, as a PNG (base64), with the offset of the frame shown. The first display unless one is named.',
  input: GetFrameInput,
  output: GetFrameOutput,
  readOnly: true,
  run: ({ replay }, input) => replay.getFrame(input),
});

export const annotate = defineOperation({
  name: 'annotate',
  title: 'Bookmark a moment',
  description: 'Add a note at a moment of a session; replay_at, what_happened and exports carry it.',
  input: AnnotateInput,
  output: AnnotateOutput,
  readOnly: false,
  run: ({ sessions, replay, events }, input) => {
    const id = sessions.resolve(input.session);
    return events.annotate(id, replay.offsetOf(id, input.at), input.text);
  },
});

export const replayCursor = defineOperation({
  name: 'replay_cursor',
  title: 'Walk a session event by event',
  description:
    'A replay cursor for editors: start at a session (optionally seek_ms), then advance N events or advance_to_ms; each call returns the events passed and a cursor token to continue. ' +
    'Every event is returned exactly once however the walk is split.',
  input: ReplayCursorInput,
  output: ReplayCursorOutput,
  readOnly: true,
  run: ({ replay }, input) => replay.cursor(input),
});

export const whatHappened = defineOperation({
  name: 'what_happened',
  title: 'What happened: a digest',
  description:
    'A compact digest of a session, or of every session in a time range ("last": "2h"): moments (progress, stuck, research, speech, idle) with durations, files touched, commits, failed commands, ' +
    'errors seen on screen, what was said and bookmarks, cut to fit max_chars. Start here for "what did I do / where did I get stuck?".',
  input: WhatHappenedInput,
  output: WhatHappenedOutput,
  readOnly: true,
  run: ({ replay }, input) => replay.whatHappened(input),
});
