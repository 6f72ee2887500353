import { defineOperation } from './operation.js';
import { GetTerminalOutputInput, GetTerminalOutputOutput } from '../model.js';

export const getTerminalOutput = defineOperation({
  name: 'get_terminal_output',
  title: 'What a command printed',
  description:
    'The output a recorded terminal (`traced shell`) printed: for one command (command_seq = the seq of its terminal.command event, or `at` = a moment while it ran), ' +
    'for a time range (from_ms/to_ms), or the whole session. Text with escape sequences removed and secrets redacted, in chunks with the time each was printed; ' +
    'paged within max_bytes (pass next_after_seq as after_seq, and next_after_char as after_char when a chunk was cut). `dropped` marks output not kept past the session cap.',
  input: GetTerminalOutputInput,
  output: GetTerminalOutputOutput,
  readOnly: true,
  run: ({ sessions, replay, terminal }, input) => {
    const id = sessions.resolve(input.session);
    return terminal.get({
      sessionId: id,
      commandSeq: input.command_seq,
      atMs: input.at === undefined ? undefined : replay.offsetOf(id, input.at),
      fromMs: input.from_ms,
      toMs: input.to_ms,
      afterSeq: input.after_seq,
      afterChar: input.after_char,
      maxBytes: input.max_bytes,
    });
  },
});
