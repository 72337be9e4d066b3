/**
 * What the promote stage's steps share: where the registry is (a SQLite file under the run
 * store's home by default, or a postgres:// URL), the audit key its writes are signed with, who
 * is acting, and how a report of one step reaches the next (a JSON file in `out`).
 *
 * A registry URL in a recipe carries no password: PostgreSQL's own PGPASSWORD (or ~/.pgpass)
 * gives it to `pg`, so that it never lands in the run store's copy of the command line.
 */
import { z } from 'zod';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeAtomic } from '../../files/atomic.js';
import { InputError } from '../../files/input-error.js';
import { absPath, type StepContext } from '../define.js';

/** The registry parameters every registry step takes. */
export const RegistryParams = {
  /** The registry: a SQLite file, or postgres://user@host:port/db (password from PGPASSWORD). Default <home>/registry.db. */
  registry: z.string().min(1).optional(),
  /** The PEM P-256 key the audit records are signed with (made on first use). Default <home>/keys/registry-audit.pem. */
  audit_key: z.string().min(1).optional(),
  /** The model's name in the registry (e.g. world-detector). */
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,127}$/, 'a registry model name: lowercase letters, digits, . _ -'),
} as const;

/** The paths and URL resolved in the paddock process: relative paths against the recipe, then $PADDOCK_REGISTRY, then defaults under the home. */
export function resolveRegistry(w: { registry?: string; audit_key?: string }, ctx: StepContext, home: string): { registry: string; audit_key: string } {
  // The recipe's registry, else the one `paddock run --registry` (or the user) put in $PADDOCK_REGISTRY
  // (an absolute path or a URL: not relative to the recipe), else the default under the home.
  const env = process.env.PADDOCK_REGISTRY;
  const isUrl = (s: string) => /^postgres(ql)?:\/\//.test(s);
  const registry = w.registry ? (isUrl(w.registry) ? w.registry : absPath(ctx, w.registry)) : env ? (isUrl(env) ? env : resolve(env)) : join(home, 'registry.db');
  const from = w.registry ? 'the recipe' : '$PADDOCK_REGISTRY (or --registry)';
  if (/^postgres(ql)?:\/\/[^/@]*:[^@/]*@/.test(registry)) throw new InputError(`registry ${registry.replace(/:[^:@/]*@/, ':***@')}: put no password in ${from} (it would be stored with the run's command line); give it in PGPASSWORD or ~/.pgpass`);
  return { registry, audit_key: w.audit_key ? absPath(ctx, w.audit_key) : join(home, 'keys', 'registry-audit.pem') };
}

/** The run store's home, as src/store/run-store.ts's defaultHome() finds it (not imported: step definitions load light). */
export function homeOf(): string {
  return resolve(process.env.PADDOCK_HOME ?? '.paddock');
}

/** Who the step acts for: the run's actor (git user.email or $USER), as paddock passed it. */
export function actorOf(): string {
  return process.env.PADDOCK_ACTOR ?? process.env.USER ?? 'unknown';
}

/** Writes a step's report as JSON (atomically) and returns its path. */
export function writeReport(out: string, name: string, value: unknown): string {
  mkdirSync(out, { recursive: true });
  const file = join(out, name);
  writeAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
  return file;
}

/** Reads an earlier step's report, or says which step should have written it. */
export function readReport<T>(file: string, by: string): T {
  if (!existsSync(file)) throw new InputError(`${file} is missing: the ${by} step writes it (did it run?)`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new InputError(`${file}: not JSON (${(err as Error).message})`);
  }
}

/** A run's current gate verdicts and the answers to them, from the run store at `home` (read-only). */
export async function runGateRecords(home: string, runId: string | undefined): Promise<{ verdicts: { gate: string; verdict: 'pass' | 'fail' | 'review'; rationale: string }[]; approvals: { gate: string; decision: 'approved' | 'rejected'; actor: string; reason: string | null }[] }> {
  if (!runId) return { verdicts: [], approvals: [] };
  const { RunStore } = await import('../../store/run-store.js');
  const store = new RunStore(home, { readonly: true });
  try {
    return {
      verdicts: store.currentVerdicts(runId).map((v) => ({ gate: v.gate, verdict: v.verdict, rationale: v.rationale })),
      approvals: store.approvals(runId).map((a) => ({ gate: a.gate, decision: a.decision, actor: a.actor, reason: a.reason })),
    };
  } finally {
    store.close();
  }
}
