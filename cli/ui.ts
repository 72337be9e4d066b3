/**
 * `paddock ui [<run-id>]`: the workbench on the run store, for looking at past runs, triaging
 * failures and reading gate records, and on the model registry (screen 8): a registry spec given,
 * or <home>/registry.db. Needs a terminal.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { RunStore } from '../src/store/run-store.js';
import { InputError } from '../src/files/input-error.js';
import { Registry } from '../src/registry/registry.js';
import { loadPolicy, type RegistryPolicy } from '../src/registry/policy.js';
import { approveEntry, schemeOfKey } from '../src/registry/approve.js';
import { defaultRegistrySpec, loadRegistrySnapshot } from '../src/registry/snapshot.js';
import { Role } from '../src/schema/registry-policy.js';
import type { RegistryDecision, RegistryLoad, RegistrySource } from '../views/screens/registry.js';
import { currentActor } from './identity.js';

/** Where the registry screen reads and how it signs: the registry, its audit key, the policy, the approver's key and identity. */
export interface RegistryAccess {
  /** A SQLite file or a postgres:// URL. */
  spec: string;
  /** The PEM P-256 key the registry's audit records are signed with (the promote steps' default: <home>/keys/registry-audit.pem). */
  auditKey: string;
  policyFile: string;
  /** The approver's private key: an SSH key (ssh scheme) or a PEM P-256 key (ecdsa scheme). */
  keyFile: string;
  identity: string;
}

const isUrl = (spec: string) => /^postgres(ql)?:\/\//.test(spec);

/**
 * The registry access of `paddock ui`: the spec given (else <home>/registry.db), the policy from
 * $PADDOCK_REGISTRY_POLICY (else <home>/registry-policy.yaml), the key from $PADDOCK_APPROVER_KEY
 * (else ~/.ssh/id_ed25519, the key git signs with most often), the identity $PADDOCK_APPROVER_IDENTITY
 * (else git's user.email or $USER).
 */
export function registryAccess(home: string, spec?: string, env: NodeJS.ProcessEnv = process.env): RegistryAccess {
  return {
    spec: spec ? (isUrl(spec) ? spec : resolve(spec)) : defaultRegistrySpec(home),
    auditKey: join(home, 'keys', 'registry-audit.pem'),
    policyFile: resolve(env.PADDOCK_REGISTRY_POLICY || join(home, 'registry-policy.yaml')),
    keyFile: resolve(env.PADDOCK_APPROVER_KEY || join(homedir(), '.ssh', 'id_ed25519')),
    // The demo names its stand-in approver (cli/demo-approver.ts); anyone else is who git says.
    identity: env.PADDOCK_APPROVER_IDENTITY || currentActor(),
  };
}

/**
 * The registry as the workbench reads and writes it. A SQLite file that does not exist is
 * reported ("no registry yet"), never created, and looked for again at the next read; once it
 * is there it is opened once and kept open. The policy is read at each read, so that an edit
 * shows without a restart; without one the approvals are listed without the roles they need.
 */
export function openRegistrySource(a: RegistryAccess): RegistrySource & { close(): Promise<void> } {
  let registry: Registry | undefined;
  let opening: Promise<Registry> | undefined;
  const open = async (): Promise<Registry | undefined> => {
    if (registry) return registry;
    if (!isUrl(a.spec) && !existsSync(a.spec)) return undefined;
    opening ??= Registry.open(a.spec, { auditKey: a.auditKey }).finally(() => (opening = undefined));
    registry = await opening;
    return registry;
  };
  const policy = (): { policy?: RegistryPolicy; note?: string } => {
    if (!existsSync(a.policyFile)) return { note: `no registry policy at ${a.policyFile} (PADDOCK_REGISTRY_POLICY names another): the roles an approval needs are unknown` };
    try {
      return { policy: loadPolicy(a.policyFile) };
    } catch (err) {
      return { note: (err as Error).message };
    }
  };
  return {
    async load(): Promise<RegistryLoad> {
      const r = await open();
      if (!r) return { absent: `no registry yet at ${a.spec}: registering a model (paddock registry, or the demo's promote stage) makes it` };
      const p = policy();
      return { snapshot: await loadRegistrySnapshot(r, { policy: p.policy, now: Date.now() }), ...(p.note ? { note: p.note } : {}) };
    },
    async onApprove(d: RegistryDecision): Promise<string> {
      const r = await open();
      if (!r) throw new InputError(`no registry at ${a.spec}`);
      const p = policy();
      if (!p.policy) throw new InputError(`cannot sign: ${p.note}`);
      const role = Role.safeParse(d.role);
      if (!role.success) throw new InputError(`${d.role}: ${role.error.issues[0]?.message}`);
      if (!existsSync(a.keyFile)) throw new InputError(`approver key ${a.keyFile}: no such file (PADDOCK_APPROVER_KEY names your SSH key, or a PEM P-256 key for the ecdsa scheme)`);
      const scheme = schemeOfKey(a.keyFile);
      const row = await approveEntry(r, p.policy, { model: d.model, version: d.version, stage: 'production', role: role.data, identity: a.identity, decision: d.decision, reason: d.reason, scheme, keyFile: a.keyFile });
      return `${d.model} ${d.version} ${d.decision} as ${d.role} by ${a.identity}: signed (${scheme}) and recorded (audit record ${row.audit_seq})`;
    },
    async close() {
      await registry?.close();
      registry = undefined;
    },
  };
}

export async function uiCommand(opts: { home: string; runId?: string; registry?: string }): Promise<number> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    process.stderr.write('paddock ui: needs a terminal (stdin and stdout); for scripts, use paddock runs / paddock show --json\n');
    return 2;
  }
  const store = new RunStore(opts.home);
  const registry = openRegistrySource(registryAccess(opts.home, opts.registry));
  try {
    let runId: string | undefined;
    if (opts.runId) {
      const row = store.findRun(opts.runId);
      if (!row) {
        process.stderr.write(`paddock ui: no run "${opts.runId}" in ${store.home} (paddock runs lists them)\n`);
        return 2;
      }
      runId = row.id;
    }
    const { openWorkbench } = await import('../views/start.js');
    await openWorkbench({ store, actor: currentActor(), runId, screen: runId ? 'run' : 'runs', registry });
    return 0;
  } finally {
    await registry.close();
    store.close();
  }
}
