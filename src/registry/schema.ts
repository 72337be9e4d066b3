/**
 * The registry's tables, one migration list for both databases. The tables are written once
 * in portable SQL; what differs (the triggers that make rows immutable) is generated per
 * dialect. Never edit a released migration: add the next one.
 *
 * Every row a registry write adds carries `audit_seq`, the audit record (./audit.ts) written in
 * the same transaction: `paddock audit verify` checks both directions (each row has its record,
 * each record's subject exists), so a record cut from the chain's end still shows.
 *
 *   models       a model's name, first registered when
 *   entries      one per version: the immutable pointers and summary (body: canonical JSON,
 *                digest: its sha256); a correction is a new entry naming `corrects`
 *   transitions  every move of an alias (staging, candidate, production, rollback): who, when,
 *                why, from what to what; the history that `paddock registry history` shows
 *   aliases      where each alias points now: a materialized view of transitions, changed only
 *                in the transaction that appends the transition (compare-and-swap on `version`)
 *   approvals    signed decisions by role (scheme ssh | ecdsa | policy)
 *   waivers      a scan finding accepted with a justification, an approver and an expiry
 *   promotions   each promotion attempt's record (governance, canary decision, approvals used)
 *   audit        the hash-chained, signed log of every registry write
 */
export interface RegistryMigration {
  version: number;
  sqlite: string;
  postgres: string;
}

/** Tables whose rows are never changed or deleted once written (the store refuses it). */
export const APPEND_ONLY = ['models', 'entries', 'transitions', 'approvals', 'waivers', 'promotions', 'audit'] as const;

const TABLES_V1 = `
CREATE TABLE models (
  name TEXT PRIMARY KEY,
  created_at BIGINT NOT NULL,
  created_by TEXT NOT NULL,
  audit_seq BIGINT NOT NULL
);
CREATE TABLE entries (
  model TEXT NOT NULL REFERENCES models (name),
  version TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  created_by TEXT NOT NULL,
  body TEXT NOT NULL,
  digest TEXT NOT NULL,
  corrects TEXT,
  audit_seq BIGINT NOT NULL,
  PRIMARY KEY (model, version)
);
CREATE TABLE transitions (
  seq BIGINT PRIMARY KEY,
  model TEXT NOT NULL REFERENCES models (name),
  alias TEXT NOT NULL CHECK (alias IN ('staging', 'candidate', 'production', 'rollback')),
  from_version TEXT,
  to_version TEXT,
  action TEXT NOT NULL CHECK (action IN ('assign', 'promote', 'rollback', 'clear')),
  actor TEXT NOT NULL,
  reason TEXT NOT NULL,
  at BIGINT NOT NULL,
  promotion_id TEXT,
  audit_seq BIGINT NOT NULL
);
CREATE INDEX transitions_by_alias ON transitions (model, alias, seq);
CREATE TABLE aliases (
  model TEXT NOT NULL REFERENCES models (name),
  alias TEXT NOT NULL CHECK (alias IN ('staging', 'candidate', 'production', 'rollback')),
  version TEXT,
  transition_seq BIGINT NOT NULL,
  PRIMARY KEY (model, alias)
);
CREATE TABLE approvals (
  id TEXT PRIMARY KEY,
  model TEXT NOT NULL,
  version TEXT NOT NULL,
  stage TEXT NOT NULL,
  role TEXT NOT NULL,
  identity TEXT NOT NULL,
  decision TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),
  reason TEXT NOT NULL,
  at BIGINT NOT NULL,
  scheme TEXT NOT NULL CHECK (scheme IN ('ssh', 'ecdsa', 'policy')),
  payload TEXT NOT NULL,
  signature TEXT NOT NULL,
  audit_seq BIGINT NOT NULL
);
CREATE INDEX approvals_by_version ON approvals (model, version, stage);
CREATE TABLE waivers (
  id TEXT PRIMARY KEY,
  model TEXT NOT NULL,
  finding TEXT NOT NULL,
  version TEXT,
  justification TEXT NOT NULL,
  approver TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  at BIGINT NOT NULL,
  audit_seq BIGINT NOT NULL
);
CREATE TABLE promotions (
  id TEXT PRIMARY KEY,
  model TEXT NOT NULL,
  version TEXT NOT NULL,
  alias TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('promoted', 'refused', 'rolled-back', 'paused')),
  actor TEXT NOT NULL,
  at BIGINT NOT NULL,
  record TEXT NOT NULL,
  audit_seq BIGINT NOT NULL
);
CREATE TABLE audit (
  seq BIGINT PRIMARY KEY,
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  key_id TEXT NOT NULL,
  signature TEXT NOT NULL
);
`;

function sqliteRefusals(tables: readonly string[]): string {
  return tables
    .map((t) => `CREATE TRIGGER ${t}_immutable_u BEFORE UPDATE ON ${t} BEGIN SELECT RAISE(ABORT, '${t} rows are immutable (append-only): UPDATE refused'); END;
CREATE TRIGGER ${t}_immutable_d BEFORE DELETE ON ${t} BEGIN SELECT RAISE(ABORT, '${t} rows are immutable (append-only): DELETE refused'); END;`)
    .join('\n');
}

function postgresRefusals(tables: readonly string[]): string {
  const fn = `CREATE FUNCTION paddock_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% rows are immutable (append-only): % refused', TG_TABLE_NAME, TG_OP;
END
$$;`;
  return [
    fn,
    ...tables.map((t) => `CREATE TRIGGER ${t}_immutable BEFORE UPDATE OR DELETE ON ${t} FOR EACH ROW EXECUTE FUNCTION paddock_refuse_change();
CREATE TRIGGER ${t}_immutable_t BEFORE TRUNCATE ON ${t} FOR EACH STATEMENT EXECUTE FUNCTION paddock_refuse_change();`),
  ].join('\n');
}

export const REGISTRY_MIGRATIONS: RegistryMigration[] = [
  {
    version: 1,
    sqlite: TABLES_V1 + sqliteRefusals(APPEND_ONLY),
    postgres: TABLES_V1 + postgresRefusals(APPEND_ONLY),
  },
];
