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
  {
    // The host pool's job queue (runners/host-pool.ts, src/store/job-queue.ts), and where a
    // container step ran: its container and the image it ran, by id.
    version: 3,
    sql: `
ALTER TABLE steps ADD COLUMN container TEXT;
ALTER TABLE steps ADD COLUMN image TEXT;
CREATE TABLE jobs (
  run_id TEXT NOT NULL REFERENCES runs (id),
  job_id TEXT NOT NULL,
  spec TEXT NOT NULL,
  requires TEXT NOT NULL DEFAULT '{}',
  gpus INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  host_failures INTEGER NOT NULL DEFAULT 0,
  max_host_failures INTEGER NOT NULL,
  not_before INTEGER NOT NULL DEFAULT 0,
  host TEXT,
  exit_code INTEGER,
  error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (run_id, job_id)
);
CREATE INDEX jobs_ready ON jobs (run_id, state, not_before);
CREATE TABLE job_attempts (
  run_id TEXT NOT NULL,
  job_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  host TEXT NOT NULL,
  container TEXT,
  started_at INTEGER NOT NULL,
  ended_at INTEGER,
  outcome TEXT CHECK (outcome IN ('succeeded', 'failed', 'host-failed', 'interrupted', 'cancelled')),
  error TEXT,
  PRIMARY KEY (run_id, job_id, attempt),
  FOREIGN KEY (run_id, job_id) REFERENCES jobs (run_id, job_id)
);
-- An attempt's outcome is written once.
CREATE TRIGGER job_attempts_outcome_once BEFORE UPDATE OF outcome ON job_attempts
WHEN OLD.outcome IS NOT NULL BEGIN SELECT RAISE(ABORT, 'job attempt outcomes are written once'); END;
-- A finished job stays finished.
CREATE TRIGGER jobs_final BEFORE UPDATE OF state ON jobs
WHEN OLD.state IN ('succeeded', 'failed') BEGIN SELECT RAISE(ABORT, 'a finished job cannot change state'); END;
`,
  },
  {
    // Triage of failures in the workbench: who reviewed which failure when, and their notes.
    version: 4,
    sql: `
CREATE TABLE failure_reviews (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL REFERENCES runs (id),
  failure_id TEXT NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('reviewed', 'note')),
  note TEXT,
  actor TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX failure_reviews_run ON failure_reviews (run_id, failure_id);
CREATE TRIGGER failure_reviews_append_only_u BEFORE UPDATE ON failure_reviews BEGIN SELECT RAISE(ABORT, 'failure reviews are append-only'); END;
CREATE TRIGGER failure_reviews_append_only_d BEFORE DELETE ON failure_reviews BEGIN SELECT RAISE(ABORT, 'failure reviews are append-only'); END;
`,
  },
  {
    // The gates file a run was planned with (recipes may name gates.yaml): resume and the
    // workbench decide and show the gates the run had, not the file as it is today.
    version: 5,
    sql: 'ALTER TABLE runs ADD COLUMN gates_text TEXT;',
  },
  {
    // The files a run read at its start besides its recipe and gates file (today: the slice files
    // of its evaluate steps), text and digest, so that show and the workbench show the slices the
    // run used, not the file as it is today. Appended, never changed: a resume that finds a file
    // changed appends its new text.
    version: 6,
    sql: `
CREATE TABLE run_files (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL REFERENCES runs (id),
  role TEXT NOT NULL CHECK (role IN ('slices')),
  step_id TEXT NOT NULL,
  path TEXT NOT NULL,
  sha256 TEXT,
  text TEXT,
  error TEXT,
  recorded_at INTEGER NOT NULL,
  CHECK ((text IS NULL) <> (error IS NULL))
);
CREATE INDEX run_files_run ON run_files (run_id, role, step_id);
CREATE TRIGGER run_files_append_only_u BEFORE UPDATE ON run_files BEGIN SELECT RAISE(ABORT, 'run files are append-only'); END;
CREATE TRIGGER run_files_append_only_d BEFORE DELETE ON run_files BEGIN SELECT RAISE(ABORT, 'run files are append-only'); END;
`,
  },
  {
    // Who holds a run (resume claims it by compare-and-set on status, pid and owner_host, in one
    // transaction: the pid alone says nothing about another host), and the options it was
    // started with (gate policy, JUnit file, concurrency, hosts file: JSON), which a resume
    // reuses unless its own command line says otherwise.
    version: 7,
    sql: `
ALTER TABLE runs ADD COLUMN owner_host TEXT;
ALTER TABLE runs ADD COLUMN options TEXT;
`,
  },
  {
    // A step that skipped its own work (it printed a `skip` and exited 0) apart from one that was
    // not run because a need failed: both are 'skipped' with the reason in `error`, but only the
    // first ran, on an input digest that a resume may reuse (schedule.ts, reusableAttempt).
    version: 8,
    sql: 'ALTER TABLE steps ADD COLUMN skipped_itself INTEGER NOT NULL DEFAULT 0;',
  },
  {
    // A failure filed for data mining (the workbench's replay screen, `d`), with the note that
    // says what to mine. SQLite cannot change a CHECK: the table is made again with the new one
    // and its rows copied (ids kept, so the order of the record stays), as sqlite.org/lang_altertable.html
    // describes; its index and append-only triggers go with the old table and are made again.
    // The DROP's implicit delete fires no trigger, and no table refers to this one.
    version: 9,
    sql: `
CREATE TABLE failure_reviews_v9 (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL REFERENCES runs (id),
  failure_id TEXT NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('reviewed', 'note', 'filed')),
  note TEXT,
  actor TEXT NOT NULL,
  at INTEGER NOT NULL,
  CHECK (action <> 'filed' OR (note IS NOT NULL AND length(trim(note)) > 0))
);
INSERT INTO failure_reviews_v9 (id, run_id, failure_id, action, note, actor, at) SELECT id, run_id, failure_id, action, note, actor, at FROM failure_reviews ORDER BY id;
DROP TABLE failure_reviews;
ALTER TABLE failure_reviews_v9 RENAME TO failure_reviews;
CREATE INDEX failure_reviews_run ON failure_reviews (run_id, failure_id);
CREATE TRIGGER failure_reviews_append_only_u BEFORE UPDATE ON failure_reviews BEGIN SELECT RAISE(ABORT, 'failure reviews are append-only'); END;
CREATE TRIGGER failure_reviews_append_only_d BEFORE DELETE ON failure_reviews BEGIN SELECT RAISE(ABORT, 'failure reviews are append-only'); END;
`,
  },
];
