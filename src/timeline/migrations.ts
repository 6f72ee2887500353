/**
 * Numbered, append-only schema migrations. A migration is never edited after
 * it ships; a change is a new entry. `schema_version` records what ran.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'sessions, channels, segments, events + fts, moments, annotations, upload jobs',
    sql: `
CREATE TABLE sessions (
  id            TEXT PRIMARY KEY,
  project       TEXT NOT NULL,
  label         TEXT,
  profile       TEXT NOT NULL,
  state         TEXT NOT NULL,
  started_at    INTEGER NOT NULL,          -- wall clock, ms
  ended_at      INTEGER,
  end_offset_ms INTEGER,
  warnings      TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
  error         TEXT,                        -- JSON {code, message}
  meta          TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX sessions_started_at ON sessions(started_at);
CREATE INDEX sessions_state ON sessions(state);

CREATE TABLE channels (
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  channel_id TEXT NOT NULL,
  kind       TEXT NOT NULL,               -- event | media
  store      INTEGER NOT NULL,
  state      TEXT NOT NULL,
  detail     TEXT,
  PRIMARY KEY (session_id, channel_id)
) WITHOUT ROWID;

CREATE TABLE segments (
  session_id      TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  channel_id      TEXT NOT NULL,
  seq             INTEGER NOT NULL,
  path            TEXT NOT NULL,            -- relative to the session folder
  start_offset_ms INTEGER NOT NULL,
  duration_ms     INTEGER,
  bytes           INTEGER,
  sha256          TEXT,
  state           TEXT NOT NULL DEFAULT 'complete', -- complete | repaired | pruned
  created_at      INTEGER NOT NULL,
  PRIMARY KEY (session_id, channel_id, seq)
) WITHOUT ROWID;

CREATE TABLE events (
  id         INTEGER PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  seq        INTEGER NOT NULL,
  parent_seq INTEGER,
  ts         INTEGER NOT NULL,
  offset_ms  INTEGER NOT NULL,
  channel    TEXT NOT NULL,
  type       TEXT NOT NULL,
  data       TEXT NOT NULL,                -- JSON object
  text       TEXT,                         -- redacted, searchable text
  UNIQUE (session_id, seq)
);
CREATE INDEX events_session_offset ON events(session_id, offset_ms);
CREATE INDEX events_session_type ON events(session_id, type);
CREATE INDEX events_ts ON events(ts);

-- External-content FTS: rows are written by the store in the same transaction
-- as the event, so an acknowledged event is always searchable.
CREATE VIRTUAL TABLE events_fts USING fts5(
  text, content='events', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);

CREATE TABLE moments (
  id              INTEGER PRIMARY KEY,
  session_id      TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  kind            TEXT NOT NULL,           -- progress | stuck | research | speech | idle
  start_offset_ms INTEGER NOT NULL,
  end_offset_ms   INTEGER NOT NULL,
  score           REAL,
  data            TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX moments_session ON moments(session_id, start_offset_ms);

CREATE TABLE annotations (
  id         INTEGER PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  offset_ms  INTEGER NOT NULL,
  ts         INTEGER NOT NULL,
  text       TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX annotations_session ON annotations(session_id, offset_ms);

CREATE TABLE upload_jobs (
  id              INTEGER PRIMARY KEY,
  target          TEXT NOT NULL,           -- e.g. videodb
  kind            TEXT NOT NULL,           -- segment | export | close
  session_id      TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  channel_id      TEXT NOT NULL DEFAULT '',
  segment_seq     INTEGER NOT NULL DEFAULT -1,
  state           TEXT NOT NULL,           -- pending | in_flight | done | failed
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error      TEXT,
  remote_id       TEXT,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  UNIQUE (target, kind, session_id, channel_id, segment_seq)
);
CREATE INDEX upload_jobs_claim ON upload_jobs(state, next_attempt_at);
`,
  },
  {
    version: 2,
    name: 'upload job results (stream and player URLs, indexing) and a per-session job index',
    sql: `
ALTER TABLE upload_jobs ADD COLUMN remote_meta TEXT;
CREATE INDEX upload_jobs_session ON upload_jobs(session_id, target, kind, state);
`,
  },
  {
    version: 3,
    name: 'local indexing progress per segment, trigram index for identifiers and paths',
    sql: `
-- One row per (segment, kind) once indexed, written in the transaction that stores its
-- events: a crash mid-indexing redoes that segment, never twice, never skips one.
CREATE TABLE index_progress (
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  channel_id TEXT NOT NULL,
  seq        INTEGER NOT NULL,
  kind       TEXT NOT NULL,               -- ocr | speech
  state      TEXT NOT NULL,               -- done | skipped | failed
  engine     TEXT,
  events     INTEGER NOT NULL DEFAULT 0,
  detail     TEXT,
  done_at    INTEGER NOT NULL,
  PRIMARY KEY (session_id, channel_id, seq, kind)
) WITHOUT ROWID;

-- Substring matches for code: TS2345, invalidateCache inside longer identifiers, store.ts(42,17).
CREATE VIRTUAL TABLE events_trigram USING fts5(text, content='events', content_rowid='id', tokenize='trigram');
INSERT INTO events_trigram (rowid, text) SELECT id, text FROM events WHERE text IS NOT NULL;
`,
  },
  {
    version: 4,
    name: 'replay lookups: the latest event of a type before a moment',
    sql: `
CREATE INDEX events_session_type_offset ON events(session_id, type, offset_ms);
`,
  },
  {
    version: 5,
    name: 'search filters: a covering index of what they test, by event id',
    sql: `
-- Search walks its indexes newest-first and tests each candidate against the filters:
-- under a types or channels filter it reads them from here, so a candidate the filters
-- drop never reads its event row (search-groups.ts, FILTER_INDEX).
CREATE INDEX events_filter ON events(id, type, channel, session_id, ts);
`,
  },
];
