/**
 * Versioned migrations of the run store, applied in order, each in one transaction.
 * Never edit a released migration: add the next one.
 */
export interface Migration {
  version: number;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    sql: `
CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  recipe_path TEXT NOT NULL,
  recipe_text TEXT NOT NULL,
  recipe_sha256 TEXT NOT NULL,
  lineage TEXT NOT NULL DEFAULT '{}',
  status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
  exit_code INTEGER,
  error TEXT,
  host TEXT NOT NULL,
  pid INTEGER,
  actor TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  ended_at INTEGER
);
CREATE TABLE steps (
  run_id TEXT NOT NULL REFERENCES runs (id),
  step_id TEXT NOT NULL,
  stage TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('step', 'gate')),
  position INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled', 'skipped')),
  attempt INTEGER NOT NULL DEFAULT 0,
  input_digest TEXT,
  runner TEXT,
  host TEXT,
  started_at INTEGER,
  ended_at INTEGER,
  error TEXT,
  exit_code INTEGER,
  reused INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, step_id)
);
CREATE TABLE events (
  run_id TEXT NOT NULL REFERENCES runs (id),
  seq INTEGER NOT NULL,
  step_id TEXT,
  attempt INTEGER NOT NULL,
  type TEXT NOT NULL,
  ts INTEGER NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
);
CREATE TABLE metrics (
  run_id TEXT NOT NULL, seq INTEGER NOT NULL, step_id TEXT, attempt INTEGER NOT NULL,
  name TEXT NOT NULL, value REAL NOT NULL, unit TEXT, slice TEXT, target TEXT,
  ci_lo REAL, ci_hi REAL, ci_level REAL, ci_method TEXT, denominators TEXT,
  PRIMARY KEY (run_id, seq)
);
CREATE INDEX metrics_by_name ON metrics (run_id, name);
CREATE TABLE failures (
  run_id TEXT NOT NULL, seq INTEGER NOT NULL, step_id TEXT, attempt INTEGER NOT NULL,
  failure_id TEXT NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL, title TEXT NOT NULL,
  evidence TEXT NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
);
CREATE TABLE artifacts (
  run_id TEXT NOT NULL, seq INTEGER NOT NULL, step_id TEXT, attempt INTEGER NOT NULL,
  path TEXT NOT NULL, sha256 TEXT NOT NULL, bytes INTEGER NOT NULL, role TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
);
CREATE TABLE verdicts (
  run_id TEXT NOT NULL, seq INTEGER NOT NULL, step_id TEXT, attempt INTEGER NOT NULL,
  gate TEXT NOT NULL, verdict TEXT NOT NULL CHECK (verdict IN ('pass', 'fail', 'review')), rationale TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
);
CREATE TABLE approvals (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL REFERENCES runs (id),
  gate TEXT NOT NULL,
  decision TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),
  reason TEXT,
  actor TEXT NOT NULL,
  subject_digest TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE TRIGGER events_append_only_u BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_append_only_d BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER approvals_append_only_u BEFORE UPDATE ON approvals BEGIN SELECT RAISE(ABORT, 'approvals are append-only'); END;
CREATE TRIGGER approvals_append_only_d BEFORE DELETE ON approvals BEGIN SELECT RAISE(ABORT, 'approvals are append-only'); END;
`,
  },
  {
    // The process id of a step's attempt, so that a resume can stop steps an interrupted run left running.
    version: 2,
    sql: 'ALTER TABLE steps ADD COLUMN pid INTEGER;',
  },
];
