/**
 * The promote stage's steps (src/steps/promote/*.step.ts) driven as the pipeline drives them: the
 * command line built by each definition's invoke() from a recipe's `with` (loaded and checked by
 * the catalogue), run as its own process (node dist/step.js <name> '<json>') with the env paddock
 * gives a step (PADDOCK_HOME, PADDOCK_RUN_ID, PADDOCK_GATE_POLICY, PADDOCK_ACTOR), on a real signed
 * pack and real evaluation and replay reports (test/helpers/promote-fixtures.ts), with a run store
 * holding the bench steps' latency events, on a SQLite registry and on PostgreSQL:
 *
 * - register -> governance -> soak -> canary -> promote headless by policy: the entry, the alias
 *   history, the policy's approvals, the reports, the release notes, the hooks' files and a signed
 *   webhook, the audit chain valid;
 * - register again: the same pack reused, another pack for the version refused;
 * - a second run's pre-release promoted over the first (rollback = the first; order by run time);
 * - --gate-policy fail: refused naming the missing roles and how to approve, then ECDSA approvals
 *   by four people and the rerun promotes;
 * - a person in the workbench: the step waits, approvals recorded by another process complete it;
 *   a rejection while waiting fails it with the reason;
 * - governance blocking (an untrusted signer, an expired waiver) and the promote step's recorded refusal;
 * - the canary step failing on a rollback decision and on a drill that was not rolled back.
 */
import { createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { keyFingerprint } from '../../src/pack/trust.js';
import { approveEntry } from '../../src/registry/approve.js';
import { loadAuditSigner, verifyAudit } from '../../src/registry/audit.js';
import { verifyWebhookSignature } from '../../src/registry/hooks.js';
import { loadPolicy } from '../../src/registry/policy.js';
import { Registry } from '../../src/registry/registry.js';
import { runPrerelease } from '../../src/steps/promote/register.step.js';
import { newRunId } from '../../src/store/run-store.js';
import { tempDir } from '../helpers/fixtures.js';
import { createTestDatabase, dropTestDatabase } from '../helpers/postgres-service.js';
import { WORLD_MODELS, buildPromoteFixtures, invokeSteps, killStartedSteps, makeIdentityKeys, runStepProcess, seedRun, startStepProcess, type PromoteFixtures, type StepResult } from '../helpers/promote-fixtures.js';

const MODEL = 'world-detector';
const ACTOR = 'ci@example.com';

let fx: PromoteFixtures;
let tmp: ReturnType<typeof tempDir>;
/** A canary report (decision promote) shared by the cases that do not test the canary itself. */
let sharedCanary: string;
let hookServer: Server;
let hookUrl: string;
const hookRequests: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];

const PLAN = {
  strategy: 'canary',
  steps: [
    { weight: 1, bake: '10m' },
    { weight: 5, bake: '10m' },
    { weight: 25, bake: '20m' },
    { weight: 100, bake: '20m' },
  ],
  analysis: {
    semantics: 'argo',
    interval: '5m',
    failureLimit: 1,
    metrics: [
      { name: 'latency.p95_ms', max: 100, breach_for: '3m' },
      { name: 'error_rate', max: 0.05 },
      { name: 'false_emergency_braking_rate', max: 0.2 },
    ],
  },
};
/** +200 ms from minute 22 (the 25% step): far past the 100 ms SLO on any machine. */
const LATENCY_DRILL = { name: 'latency-plus-200ms-at-25pct', injections: [{ kind: 'step', metric: 'latency', from_minute: 22, add: 200 }] };
const WAIVER = { finding: 'scan:vulnerabilities', justification: 'the test runs offline and gives the sbom step no vulnerability database', approver: 'policy:demo', expires_in_days: 30 };

interface RecipeOpts {
  tag: string;
  policy: string;
  pack: string;
  registry?: string;
  version?: string;
  prerelease?: boolean;
  waivers?: object[];
  injections?: object[];
  drills?: object[];
  /** The canary output the promote step reads (default: this recipe's own canary step's). */
  canaryDir?: string;
  hooks?: object;
}

/** A recipe with the demo's promote stage (fixtures/demo/paddock.yaml), written into `dir`; outputs under build/<tag>/. */
function writeRecipe(dir: string, o: RecipeOpts): string {
  const out = (s: string) => `build/${o.tag}/${s}`;
  const reg = { name: MODEL, ...(o.registry ? { registry: o.registry } : {}) };
  const recipe = {
    version: 1,
    name: 'promote-test',
    models: {
      production: { version: '1.0.0', onnx: { path: join(WORLD_MODELS, 'production', 'model.onnx') }, lineage: { dataset: 'golden-v1' } },
      candidate: { version: '1.1.0', onnx: { path: join(WORLD_MODELS, 'candidate', 'model.onnx') }, lineage: { dataset: 'golden-v1' } },
    },
    stages: {
      promote: [
        { id: 'register', uses: 'register', with: { ...reg, model: 'candidate', ...(o.version ? { version: o.version } : {}), ...(o.prerelease ? { prerelease: 'run' } : {}), pack: o.pack, evaluation: fx.evaluation, replay: fx.replay, policy: o.policy, out: out('register') } },
        { id: 'governance', uses: 'governance', needs: ['register'], with: { ...reg, pack: o.pack, policy: o.policy, registration: out('register'), waivers: o.waivers ?? [WAIVER], out: out('governance') } },
        { id: 'soak', uses: 'soak', with: { pack: o.pack, seconds: 2, warmup_s: 0.5, threads: 1, window_s: 0.5, bounds: { maxP95Drift: 5 }, out: out('soak') } },
        {
          id: 'canary',
          uses: 'canary',
          needs: ['register'],
          with: { plan: PLAN, canary_target: 'candidate/cpu-fp32', baseline_target: 'production/cpu-fp32', replay: fx.replay, evaluation: fx.evaluation, injections: o.injections ?? [], drills: o.drills ?? [LATENCY_DRILL], out: out('canary') },
        },
        {
          id: 'promote',
          uses: 'promote',
          needs: ['governance', 'canary'],
          with: { ...reg, policy: o.policy, pack: o.pack, registration: out('register'), governance: out('governance'), canary: o.canaryDir ?? out('canary'), evaluation: fx.evaluation, replay: fx.replay, hooks: o.hooks ?? {}, wait_s: 60, out: out('promote') },
        },
      ],
    },
  };
  const file = join(dir, `${o.tag}.yaml`);
  writeFileSync(file, stringify(recipe));
  return file;
}

/** The demo's kind of policy: one recorded machine identity holds every role and answers headless. */
function headlessPolicy(dir: string): string {
  const file = join(dir, 'policy-headless.yaml');
  writeFileSync(
    file,
    stringify({
      version: 1,
      roles: { technical: ['policy:demo'], safety: ['policy:demo'], security: ['policy:demo'], product: ['policy:demo'] },
      required: { production: ['technical', 'safety', 'security', 'product'], candidate: ['technical'] },
      separation_of_duties: false,
      publishers: fx.publisherPub,
      governance: { require_sbom: true, scans: { fail_on: ['critical', 'high'] }, licenses: { deny: ['AGPL-3.0-only'] }, gates: 'all' },
      consumption: { bucket: 'paddock-packs', prefix: 'world-detector/', principal: 'arn:aws:iam::123456789012:role/vehicle-fleet-reader' },
      headless: { approve_as: 'policy:demo' },
    }),
  );
  return file;
}

/** A team's policy: four people, one role each, separation of duties, ECDSA keys, nobody headless. */
function peoplePolicy(dir: string): { file: string; keys: ReturnType<typeof makeIdentityKeys> } {
  const keys = makeIdentityKeys(dir);
  const file = join(dir, 'policy-people.yaml');
  writeFileSync(
    file,
    stringify({
      version: 1,
      roles: { technical: [keys.alice.identity], safety: [keys.bob.identity], security: [keys.carol.identity], product: [keys.dan.identity] },
      required: { production: ['technical', 'safety', 'security', 'product'], candidate: ['technical'] },
      separation_of_duties: true,
      signers: { ecdsa: Object.fromEntries(Object.values(keys).map((k) => [k.identity, k.pubFile])) },
      publishers: fx.publisherPub,
      governance: { require_sbom: true, scans: { fail_on: ['critical', 'high'] }, gates: 'all' },
      consumption: { bucket: 'paddock-packs', prefix: 'world-detector/', principal: 'arn:aws:iam::123456789012:role/vehicle-fleet-reader' },
    }),
  );
  return { file, keys };
}

const ROLE_OF = { alice: 'technical', bob: 'safety', carol: 'security', dan: 'product' } as const;

beforeAll(async () => {
  tmp = tempDir('paddock-promote-steps-');
  hookServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hookRequests.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => hookServer.listen(0, '127.0.0.1', resolve));
  hookUrl = `http://127.0.0.1:${(hookServer.address() as { port: number }).port}/hooks/paddock`;
  fx = await buildPromoteFixtures();
  // The canary report the cases share (the canary step itself is tested in its own cases and in the first).
  const dir = join(tmp.dir, 'shared');
  const home = join(dir, 'home');
  mkdirSync(home, { recursive: true });
  const runId = seedRun(home, fx);
  const recipe = writeRecipe(dir, { tag: 'shared', policy: headlessPolicy(dir), pack: fx.packA });
  const r = await runStepProcess(invokeSteps(recipe, { home, runId }).canary, { PADDOCK_HOME: home, PADDOCK_RUN_ID: runId, PADDOCK_ACTOR: ACTOR });
  expect(r.exitCode, r.text).toBe(0);
  sharedCanary = join(dir, 'build', 'shared', 'canary');
  expect(existsSync(join(sharedCanary, 'canary_report.json'))).toBe(true);
}, 120_000);

afterAll(async () => {
  killStartedSteps();
  await new Promise<void>((resolve) => (hookServer ? hookServer.close(() => resolve()) : resolve()));
  fx?.cleanup();
  tmp?.cleanup();
});

const readJson = <T = Record<string, unknown>>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;

/** One case's world: a run store home, a registry, a run seeded with the bench and evaluate steps' events. */
interface World {
  dir: string;
  home: string;
  /** What the recipe names (`registry:`): a PostgreSQL URL without its password; undefined: the default <home>/registry.db. */
  recipeRegistry?: string;
  /** What this process opens (with the password; the default file for SQLite). */
  openSpec: string;
  pgPassword?: string;
  open(): Promise<Registry>;
  env(runId: string, gatePolicy: string): Record<string, string | undefined>;
  /** Runs one step of a recipe as paddock would. */
  run(recipe: string, stepId: string, runId: string, gatePolicy?: string, extraEnv?: Record<string, string>): Promise<StepResult>;
  start(recipe: string, stepId: string, runId: string, gatePolicy: string): ReturnType<typeof startStepProcess>;
  auditValid(): Promise<number>;
}

const expectOk = (r: StepResult, what: string) => expect(r.exitCode, `${what}: ${r.text}`).toBe(0);

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(kind, () => {
    const databases: string[] = [];
    let n = 0;

    async function world(name: string): Promise<World> {
      const dir = join(tmp.dir, kind, name);
      const home = join(dir, 'home');
      mkdirSync(home, { recursive: true });
      let recipeRegistry: string | undefined;
      let openSpec = join(home, 'registry.db');
      let pgPassword: string | undefined;
      if (kind === 'postgres') {
        const db = `promote_steps_${process.pid}_${++n}`;
        databases.push(db);
        openSpec = await createTestDatabase(db);
        const u = new URL(openSpec);
        pgPassword = decodeURIComponent(u.password);
        u.password = '';
        recipeRegistry = u.toString();
      }
      const w: World = {
        dir,
        home,
        recipeRegistry,
        openSpec,
        pgPassword,
        open: () => Registry.open(openSpec, { auditKey: join(home, 'keys', 'registry-audit.pem') }),
        env: (runId, gatePolicy) => ({ PADDOCK_HOME: home, PADDOCK_RUN_ID: runId, PADDOCK_GATE_POLICY: gatePolicy, PADDOCK_ACTOR: ACTOR, ...(pgPassword ? { PGPASSWORD: pgPassword } : {}) }),
        run: (recipe, stepId, runId, gatePolicy = 'approve', extraEnv = {}) => runStepProcess(invokeSteps(recipe, { home, runId })[stepId], { ...w.env(runId, gatePolicy), ...extraEnv }),
        start: (recipe, stepId, runId, gatePolicy) => startStepProcess(invokeSteps(recipe, { home, runId })[stepId], w.env(runId, gatePolicy)),
        async auditValid() {
          const r = await w.open();
          try {
            const signer = loadAuditSigner(join(home, 'keys', 'registry-audit.pem'));
            const v = await verifyAudit(r.db, [{ keyId: signer.keyId, publicPem: signer.publicPem }]);
            expect(v.problems).toEqual([]);
            expect(v.ok).toBe(true);
            return v.records;
          } finally {
            await r.close();
          }
        },
      };
      return w;
    }

    afterAll(async () => {
      for (const db of databases.splice(0)) await dropTestDatabase(db);
    });

    describe('headless by policy (the demo)', () => {
      let w: World;
      let policy: string;
      const run1 = newRunId(new Date(Date.UTC(2026, 4, 1, 10, 0, 0)));
      const run2 = newRunId(new Date(Date.UTC(2026, 4, 2, 9, 30, 0)));
      const v1 = runPrerelease('1.1.0', run1);
      const v2 = runPrerelease('1.1.0', run2);
      let first: string;

      beforeAll(async () => {
        w = await world('headless');
        policy = headlessPolicy(w.dir);
        seedRun(w.home, fx, { runId: run1 });
        seedRun(w.home, fx, { runId: run2 });
      });

      it('register -> governance -> soak -> canary -> promote: production moves, approvals by policy, reports, release notes and hooks written, audit valid', async () => {
        first = writeRecipe(w.dir, {
          tag: 'first',
          policy,
          pack: fx.packA,
          registry: w.recipeRegistry,
          prerelease: true,
          hooks: {
            webhooks: [{ name: 'ci', url: hookUrl, secret_env: 'PROMOTE_TEST_WEBHOOK_SECRET', max_retries: 0 }],
            data_mining: { requests_dir: 'build/first/data-requests' },
            schedule: { dir: 'build/first/schedule', on_calendar: 'Mon *-*-* 03:00:00', command: ['paddock', 'run', 'paddock.yaml', '--headless'] },
          },
        });
        const out = join(w.dir, 'build', 'first');
        // The command line names the registry, never its password; the default SQLite file is under the home.
        const cmd = invokeSteps(first, { home: w.home, runId: run1 });
        const params = JSON.parse(cmd.register.at(-1)!) as { registry: string; audit_key: string; run_id: string };
        expect(params).toMatchObject({ registry: w.recipeRegistry ?? join(w.home, 'registry.db'), audit_key: join(w.home, 'keys', 'registry-audit.pem'), run_id: run1 });
        if (w.pgPassword) expect(cmd.register.join(' ')).not.toContain(`:${w.pgPassword}@`);

        const reg = await w.run(first, 'register', run1);
        expectOk(reg, 'register');
        expect(readJson(join(out, 'register', 'registration.json'))).toMatchObject({ model: MODEL, version: v1, aliases: { staging: v1, candidate: v1, production: null } });
        expect(reg.events).toContainEqual(expect.objectContaining({ type: 'metric', name: 'registry.registered', value: 1 }));

        const gov = await w.run(first, 'governance', run1);
        expectOk(gov, 'governance');
        const report = readJson<{ ok: boolean; checks: { id: string; status: string; detail: string }[] }>(join(out, 'governance', 'governance_report.json'));
        expect(report.ok).toBe(true);
        expect(Object.fromEntries(report.checks.map((c) => [c.id, c.status]))).toEqual({ signature: 'pass', digests: 'pass', sbom: 'pass', vulnerabilities: 'waived', licenses: 'pass', gates: 'pass', consumption: 'pass' });
        expect(report.checks.find((c) => c.id === 'gates')!.detail).toBe('1 required gate (all that ran), all green: latency-p95');
        expect(readJson(join(out, 'governance', 'consumption-policy.json'))).toMatchObject({ Version: '2012-10-17' });

        const soak = await w.run(first, 'soak', run1);
        expectOk(soak, 'soak');
        const soakReport = readJson<{ ok: boolean; overall: { inferences: number } }>(join(out, 'soak', 'soak_report.json'));
        expect(soakReport.ok).toBe(true);
        expect(soakReport.overall.inferences).toBeGreaterThan(10);

        const canary = await w.run(first, 'canary', run1);
        expectOk(canary, 'canary');
        const cr = readJson<{ decision: { action: string; step: number }; drills: { name: string; caught: boolean; decision: { action: string; step: number } }[]; telemetry: { sources: string[] } }>(join(out, 'canary', 'canary_report.json'));
        // Steps count from 0 (Argo's currentStepIndex): 3 is the 100% step.
        expect(cr.decision).toMatchObject({ action: 'promote', step: 3 });
        expect(cr.drills).toEqual([expect.objectContaining({ name: LATENCY_DRILL.name, caught: true, decision: expect.objectContaining({ action: 'rollback', step: 2 }) })]);
        // The latency came from this run's bench events in the store: 100 samples of each model.
        expect(cr.telemetry.sources.join('\n')).toContain('100 bench latency samples of candidate/cpu-fp32');
        expect(cr.telemetry.sources.join('\n')).toContain('100 bench latency samples of production/cpu-fp32');

        hookRequests.length = 0;
        const promote = await w.run(first, 'promote', run1, 'approve', { PROMOTE_TEST_WEBHOOK_SECRET: 'a-webhook-secret-for-tests' });
        expectOk(promote, 'promote');
        expect(promote.text).toMatch(new RegExp(`production - -> ${v1.replace(/\./g, '\\.')} \\(promotion `));

        const r = await w.open();
        try {
          expect(await r.aliases(MODEL)).toEqual({ staging: v1, candidate: v1, production: v1, rollback: null });
          expect((await r.history(MODEL)).map((t) => [t.alias, t.from_version, t.to_version])).toEqual([
            ['staging', null, v1],
            ['candidate', null, v1],
            ['production', null, v1],
          ]);
          const approvals = await r.approvals(MODEL, v1);
          expect(approvals.map((a) => [a.stage, a.role, a.identity, a.scheme, a.decision]).sort()).toEqual(
            [
              ['candidate', 'technical', 'policy:demo', 'policy', 'approved'],
              ['production', 'product', 'policy:demo', 'policy', 'approved'],
              ['production', 'safety', 'policy:demo', 'policy', 'approved'],
              ['production', 'security', 'policy:demo', 'policy', 'approved'],
              ['production', 'technical', 'policy:demo', 'policy', 'approved'],
            ].sort(),
          );
          expect(approvals.every((a) => a.reason.includes(`--gate-policy approve, headless (run ${run1})`))).toBe(true);
          const entry = (await r.entry(MODEL, v1))!;
          const promotions = await r.promotions(MODEL, v1);
          expect(promotions.map((p) => p.status)).toEqual(['promoted']);

          const promotion = readJson<{ version: string; previous: string | null; promotion: string; release_notes: string; approvals: { scheme: string }[]; hooks: { hook: string; status: string; files?: string[] }[] }>(join(out, 'promote', 'promotion.json'));
          expect(promotion).toMatchObject({ model: MODEL, version: v1, previous: null, promotion: promotions[0].id, release_notes: join(out, 'promote', `release-notes-${v1}.md`) });
          expect(promotion.approvals.map((a) => a.scheme)).toEqual(['policy', 'policy', 'policy', 'policy']);
          // The release notes: the entry's figures, the canary's decision, the approvals, the digests.
          const notes = readFileSync(promotion.release_notes, 'utf8');
          expect(notes).toContain(`# ${MODEL} ${v1}: release notes`);
          expect(notes).toContain("the model's first production version");
          expect(notes).toContain(`| coco.AP | ${entry.body.summary.headline['coco.AP'].toFixed(4)} |`);
          const lat = entry.body.summary.latency[0];
          expect(notes).toContain(`| ${lat.target} | ${lat.p50_ms.toFixed(2)} | ${lat.p95_ms.toFixed(2)} | ${lat.p99_ms.toFixed(2)} |`);
          expect(notes).toContain('Decision: **promote** at step 3 (argo semantics)');
          expect(notes).toContain(`Manifest: \`sha256:${entry.body.pack.manifest_digest}\``);
          expect(notes.match(/\| policy:demo \| approved \| .* \| policy \|/g)).toHaveLength(4);
          expect(notes).toContain('| vulnerabilities | waived |');

          // The hooks: the webhook (signed as MLflow signs), the data-mining request from the run's failures, the schedule files.
          expect(Object.fromEntries(promotion.hooks.map((h) => [h.hook, h.status]))).toEqual({ 'webhook:ci': 'ok', 'data-mining': 'ok', schedule: 'ok', retention: 'skipped' });
          expect(hookRequests).toHaveLength(1);
          expect(verifyWebhookSignature({ secret: 'a-webhook-secret-for-tests', body: hookRequests[0].body, headers: hookRequests[0].headers })).toMatchObject({ ok: true });
          expect(JSON.parse(hookRequests[0].body)).toMatchObject({ entity: 'model_version', action: 'promoted', data: { name: MODEL, version: v1, alias: 'production', previous_version: null, promotion_id: promotions[0].id } });
          const requests = readdirSync(join(out, 'data-requests'));
          expect(requests).toHaveLength(1);
          const request = readJson<{ model: string; version: string; promotion_id: string; clusters: { count: number; example_frames: unknown[] }[]; totals: { errors: number } }>(join(out, 'data-requests', requests[0]));
          expect(request).toMatchObject({ model: MODEL, version: v1, promotion_id: promotions[0].id });
          expect(request.totals.errors).toBe(fx.evalFailures.length);
          expect(request.clusters.reduce((s, c) => s + c.count, 0)).toBe(fx.evalFailures.length);
          const schedule = readdirSync(join(out, 'schedule')).sort();
          expect(schedule).toEqual(expect.arrayContaining(['paddock-weekly-evaluation.service', 'paddock-weekly-evaluation.timer']));
          expect(readFileSync(join(out, 'schedule', 'paddock-weekly-evaluation.timer'), 'utf8')).toContain('OnCalendar=Mon *-*-* 03:00:00');
        } finally {
          await r.close();
        }
        // model, entry, staging, candidate approval, candidate, waiver, 4 production approvals, production, the promotion's record.
        expect(await w.auditValid()).toBe(12);
      });

      it('register again: the entry registered with the same pack is reused; another pack for the version is refused', async () => {
        const again = await w.run(first, 'register', run1);
        expectOk(again, 'register again');
        expect(again.text).toContain(`${MODEL} ${v1} is already registered with this pack`);
        const other = writeRecipe(w.dir, { tag: 'other-pack', policy, pack: fx.packB, registry: w.recipeRegistry, prerelease: true });
        const refused = await w.run(other, 'register', run1);
        expect(refused.exitCode).toBe(1);
        expect(refused.stderr).toMatch(new RegExp(`^register: ${MODEL} ${v1.replace(/\./g, '\\.')} is already in the registry \\(.+\\) with pack manifest [0-9a-f]{12}, and this pack's is [0-9a-f]{12}: an entry never changes; a new pack is a new version \\(or prerelease: run\\)$`));
        const r = await w.open();
        try {
          expect((await r.entries(MODEL)).map((e) => e.version)).toEqual([v1]);
          expect((await r.history(MODEL)).length).toBe(3);
        } finally {
          await r.close();
        }
        await w.auditValid();
      });

      it("a second run's pre-release is promoted over the first: production moves, rollback = the first; versions order by run time", async () => {
        const second = writeRecipe(w.dir, { tag: 'second', policy, pack: fx.packB, registry: w.recipeRegistry, prerelease: true, canaryDir: join(w.dir, 'build', 'first', 'canary') });
        expectOk(await w.run(second, 'register', run2), 'register');
        expectOk(await w.run(second, 'governance', run2), 'governance');
        const promote = await w.run(second, 'promote', run2);
        expectOk(promote, 'promote');
        expect(promote.text).toContain(`production ${v1} -> ${v2}; rollback -> ${v1} (paddock rollback ${MODEL})`);
        const r = await w.open();
        try {
          expect(await r.aliases(MODEL)).toEqual({ staging: v2, candidate: v2, production: v2, rollback: v1 });
          expect((await r.entries(MODEL)).map((e) => e.version)).toEqual([v1, v2]);
          expect((await r.history(MODEL, 'production')).map((t) => [t.from_version, t.to_version])).toEqual([
            [null, v1],
            [v1, v2],
          ]);
        } finally {
          await r.close();
        }
        const promotion = readJson<{ previous: string }>(join(w.dir, 'build', 'second', 'promote', 'promotion.json'));
        expect(promotion.previous).toBe(v1);
        const notes = readFileSync(join(w.dir, 'build', 'second', 'promote', `release-notes-${v2}.md`), 'utf8');
        expect(notes).toContain(`replacing ${v1} (now the rollback target)`);
        // A run from before the first: its pre-release sorts before both, so it is refused.
        const earlier = newRunId(new Date(Date.UTC(2026, 3, 30, 8, 0, 0)));
        seedRun(w.home, fx, { runId: earlier });
        const late = await w.run(second, 'register', earlier);
        expect(late.exitCode).toBe(1);
        expect(late.stderr).toContain(`${MODEL} ${runPrerelease('1.1.0', earlier)} is not greater than ${v2}, the greatest version registered`);
        await w.auditValid();
      });
    });

    describe('approvals by people', () => {
      let w: World;
      let people: ReturnType<typeof peoplePolicy>;

      beforeAll(async () => {
        w = await world('people');
        people = peoplePolicy(w.dir);
      });

      async function approve(version: string, stage: 'candidate' | 'production', who: keyof typeof ROLE_OF, decision: 'approved' | 'rejected' = 'approved', reason = `${who} read the reports`) {
        const r = await w.open();
        try {
          return await approveEntry(r, loadPolicy(people.file), { model: MODEL, version, stage, role: ROLE_OF[who], identity: people.keys[who].identity, decision, reason, scheme: 'ecdsa', keyFile: people.keys[who].keyFile });
        } finally {
          await r.close();
        }
      }

      it('--gate-policy fail: register and promote fail naming the missing roles and how to approve, nothing moves; with ECDSA approvals by four people the reruns go through', async () => {
        const runId = seedRun(w.home, fx, { at: new Date(Date.UTC(2026, 4, 3, 12, 0, 0)) });
        const recipe = writeRecipe(w.dir, { tag: 'fail', policy: people.file, pack: fx.packA, registry: w.recipeRegistry, canaryDir: sharedCanary });
        const reg = await w.run(recipe, 'register', runId, 'fail');
        expect(reg.exitCode).toBe(1);
        expect(reg.stderr).toContain(
          `${MODEL} 1.1.0 needs candidate approvals: technical required; none given; missing technical. Nobody answered (headless with --gate-policy fail): approve with "paddock registry approve ${MODEL} 1.1.0 --stage candidate --role <role> --reason ..." or on the workbench's registry screen (8, then a), then resume the run`,
        );
        await approve('1.1.0', 'candidate', 'alice');
        expectOk(await w.run(recipe, 'register', runId, 'fail'), 'register after the approval');
        expectOk(await w.run(recipe, 'governance', runId, 'fail'), 'governance');
        const refused = await w.run(recipe, 'promote', runId, 'fail');
        expect(refused.exitCode).toBe(1);
        expect(refused.stderr).toContain(`${MODEL} 1.1.0 needs production approvals: technical, safety, security, product required; none given; missing technical, safety, security, product. Nobody answered (headless with --gate-policy fail)`);
        expect(refused.stderr).toContain(`paddock registry approve ${MODEL} 1.1.0 --stage production --role <role>`);
        let r = await w.open();
        try {
          expect((await r.aliases(MODEL)).production).toBeNull();
          expect(await r.history(MODEL, 'production')).toEqual([]);
          expect(await r.promotions(MODEL)).toEqual([]);
        } finally {
          await r.close();
        }
        // Three of four: still refused, naming the one missing.
        for (const who of ['alice', 'bob', 'carol'] as const) await approve('1.1.0', 'production', who);
        const three = await w.run(recipe, 'promote', runId, 'fail');
        expect(three.exitCode).toBe(1);
        expect(three.stderr).toContain('technical by alice@example.com, safety by bob@example.com, security by carol@example.com; missing product.');
        await approve('1.1.0', 'production', 'dan');
        const promote = await w.run(recipe, 'promote', runId, 'fail');
        expectOk(promote, 'promote after the approvals');
        r = await w.open();
        try {
          expect(await r.aliases(MODEL)).toMatchObject({ production: '1.1.0', rollback: null });
        } finally {
          await r.close();
        }
        const promotion = readJson<{ approvals: { role: string; identity: string; scheme: string }[] }>(join(w.dir, 'build', 'fail', 'promote', 'promotion.json'));
        expect(promotion.approvals.map((a) => `${a.role} ${a.identity} ${a.scheme}`).sort()).toEqual(['product dan@example.com ecdsa', 'safety bob@example.com ecdsa', 'security carol@example.com ecdsa', 'technical alice@example.com ecdsa']);
        await w.auditValid();
      });

      it('in the workbench (person): the steps wait; approvals recorded by another process complete them; a rejection while waiting fails with its reason', async () => {
        const runId = seedRun(w.home, fx, { at: new Date(Date.UTC(2026, 4, 4, 12, 0, 0)) });
        const recipe = writeRecipe(w.dir, { tag: 'person', policy: people.file, pack: fx.packB, registry: w.recipeRegistry, version: '1.2.0', canaryDir: sharedCanary });
        const reg = w.start(recipe, 'register', runId, 'person');
        await reg.waitForLog(/^waiting for candidate approvals of world-detector 1\.2\.0: technical required; none given; missing technical/);
        await approve('1.2.0', 'candidate', 'alice');
        expectOk(await reg.done, 'register');
        expectOk(await w.run(recipe, 'governance', runId, 'person'), 'governance');
        const promote = w.start(recipe, 'promote', runId, 'person');
        await promote.waitForLog(/^waiting for production approvals of world-detector 1\.2\.0: .*missing technical, safety, security, product/);
        for (const who of ['alice', 'bob', 'carol', 'dan'] as const) await approve('1.2.0', 'production', who);
        const done = await promote.done;
        expectOk(done, 'promote');
        let r = await w.open();
        try {
          expect(await r.aliases(MODEL)).toMatchObject({ production: '1.2.0', rollback: '1.1.0' });
        } finally {
          await r.close();
        }

        // 1.3.0: the same wait, answered with a rejection.
        const recipe3 = writeRecipe(w.dir, { tag: 'rejected', policy: people.file, pack: fx.packA, registry: w.recipeRegistry, version: '1.3.0', canaryDir: sharedCanary });
        await approveAfterRegister(recipe3, runId, '1.3.0');
        expectOk(await w.run(recipe3, 'governance', runId, 'person'), 'governance');
        const waiting = w.start(recipe3, 'promote', runId, 'person');
        await waiting.waitForLog(/^waiting for production approvals of world-detector 1\.3\.0/);
        await approve('1.3.0', 'production', 'alice');
        await approve('1.3.0', 'production', 'carol', 'rejected', 'the night-rain slice regressed; not before the retrain');
        const rejected = await waiting.done;
        expect(rejected.exitCode).toBe(1);
        expect(rejected.stderr).toContain(`${MODEL} 1.3.0 is rejected for production: carol@example.com as security: "the night-rain slice regressed; not before the retrain"`);
        r = await w.open();
        try {
          expect(await r.aliases(MODEL)).toMatchObject({ production: '1.2.0', rollback: '1.1.0', candidate: '1.3.0' });
        } finally {
          await r.close();
        }
        await w.auditValid();
      });

      async function approveAfterRegister(recipe: string, runId: string, version: string) {
        const reg = w.start(recipe, 'register', runId, 'person');
        await reg.waitForLog(new RegExp(`^waiting for candidate approvals of world-detector ${version.replace(/\./g, '\\.')}`));
        await approve(version, 'candidate', 'alice');
        expectOk(await reg.done, 'register');
      }
    });

    describe('governance blocks', () => {
      let w: World;
      let policy: string;
      let runId: string;

      beforeAll(async () => {
        w = await world('governance');
        policy = headlessPolicy(w.dir);
        runId = seedRun(w.home, fx, { at: new Date(Date.UTC(2026, 4, 5, 12, 0, 0)) });
      });

      it('a pack signed by a key the policy does not trust fails governance naming it; the promote step refuses, and the refusal is recorded', async () => {
        const recipe = writeRecipe(w.dir, { tag: 'untrusted', policy, pack: fx.packUntrusted, registry: w.recipeRegistry, canaryDir: sharedCanary });
        expectOk(await w.run(recipe, 'register', runId), 'register');
        const gov = await w.run(recipe, 'governance', runId);
        expect(gov.exitCode).toBe(1);
        const fp = keyFingerprint(createPublicKey(readFileSync(fx.untrustedPub, 'utf8')));
        expect(gov.stderr).toMatch(new RegExp(`^governance: ${fx.packUntrusted} may not be promoted: signature: .*${fp.replace(/[+/]/g, (c) => `\\${c}`)}`));
        const report = readJson<{ ok: boolean; checks: { id: string; status: string }[] }>(join(w.dir, 'build', 'untrusted', 'governance', 'governance_report.json'));
        expect(report.ok).toBe(false);
        expect(report.checks.filter((c) => c.status === 'fail').map((c) => c.id)).toEqual(['signature']);
        expect(gov.events).toContainEqual(expect.objectContaining({ type: 'failure', id: 'governance/signature', kind: 'governance', severity: 'critical' }));

        const promote = await w.run(recipe, 'promote', runId);
        expect(promote.exitCode).toBe(1);
        expect(promote.stderr).toBe(`promote: ${MODEL} 1.1.0 not promoted: governance failed: signature`);
        const r = await w.open();
        try {
          expect((await r.aliases(MODEL)).production).toBeNull();
          const attempts = await r.promotions(MODEL, '1.1.0');
          expect(attempts.map((p) => [p.status, p.actor, (p.record as { reason: string }).reason])).toEqual([['refused', ACTOR, 'governance failed: signature']]);
          expect((attempts[0].record as { governance: { ok: boolean } }).governance.ok).toBe(false);
        } finally {
          await r.close();
        }
        await w.auditValid();
      });

      it('an expired waiver blocks, saying when it expired', async () => {
        // A registry of its own: the waiver the case above recorded (every version, 30 days) would cover it.
        const w = await world('expired');
        const policy = headlessPolicy(w.dir);
        const runId = seedRun(w.home, fx, { at: new Date(Date.UTC(2026, 4, 6, 12, 0, 0)) });
        const recipe = writeRecipe(w.dir, { tag: 'expired', policy, pack: fx.packA, registry: w.recipeRegistry, version: '1.2.0', waivers: [] });
        expectOk(await w.run(recipe, 'register', runId), 'register');
        // Recorded as `paddock registry waive` would, valid for a second (the registry refuses one that expires before it is recorded).
        const r = await w.open();
        const expiredAt = Date.now() + 1000;
        try {
          await r.recordWaiver({ model: MODEL, finding: 'scan:vulnerabilities', version: '1.2.0', justification: 'offline until the OSV mirror is set up', approver: 'carol@example.com', expires_at: expiredAt });
        } finally {
          await r.close();
        }
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiredAt - Date.now() + 20)));
        const gov = await w.run(recipe, 'governance', runId);
        expect(gov.exitCode).toBe(1);
        const report = readJson<{ ok: boolean; checks: { id: string; status: string; detail: string }[] }>(join(w.dir, 'build', 'expired', 'governance', 'governance_report.json'));
        const vuln = report.checks.find((c) => c.id === 'vulnerabilities')!;
        expect(vuln.status).toBe('fail');
        expect(vuln.detail).toContain(`(approved by carol@example.com) expired at ${new Date(expiredAt).toISOString()}`);
        expect(gov.stderr).toContain('vulnerabilities: ');
        // A waiver for this version (the registered one, 1.2.0, of a pack signed as 1.1.0) covers it again.
        const scoped = writeRecipe(w.dir, { tag: 'expired', policy, pack: fx.packA, registry: w.recipeRegistry, version: '1.2.0', waivers: [{ ...WAIVER, scope: 'this' }] });
        const again = await w.run(scoped, 'governance', runId);
        expectOk(again, 'governance with a waiver for this version');
        expect(readJson<{ checks: { id: string; status: string }[] }>(join(w.dir, 'build', 'expired', 'governance', 'governance_report.json')).checks.find((c) => c.id === 'vulnerabilities')!.status).toBe('waived');
        await w.auditValid();
      });
    });
  });
}

describe('the canary step', () => {
  let home: string;
  let runId: string;
  let policy: string;

  beforeAll(() => {
    home = join(tmp.dir, 'canary', 'home');
    mkdirSync(home, { recursive: true });
    runId = seedRun(home, fx);
    policy = headlessPolicy(join(tmp.dir, 'canary'));
  });

  const canary = (tag: string, o: Partial<RecipeOpts>) => {
    const recipe = writeRecipe(join(tmp.dir, 'canary'), { tag, policy, pack: fx.packA, ...o });
    return runStepProcess(invokeSteps(recipe, { home, runId }).canary, { PADDOCK_HOME: home, PADDOCK_RUN_ID: runId, PADDOCK_ACTOR: ACTOR });
  };

  it('fails when the analysis decides rollback on the analysed stream itself (an injection in `injections`)', async () => {
    const r = await canary('rollback', { injections: [{ kind: 'step', metric: 'latency', from_minute: 0, add: 200 }] });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^canary: the analysis decided rollback at step 0 \(1%\), 10m: argo: metric "latency\.p95_ms" assessed Failed .*> max 100 at 10m\)/);
    const report = readJson<{ decision: { action: string; step: number } }>(join(tmp.dir, 'canary', 'build', 'rollback', 'canary', 'canary_report.json'));
    expect(report.decision).toMatchObject({ action: 'rollback', step: 0 });
    expect(r.events).toContainEqual(expect.objectContaining({ type: 'metric', name: 'canary.promote', value: 0 }));
  });

  it('fails when a drill is not rolled back (a harmless 1% latency change), naming the drill', async () => {
    const r = await canary('drill', { drills: [{ name: 'harmless', injections: [{ kind: 'step', metric: 'latency', from_minute: 22, factor: 1.01 }] }] });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^canary: 1 drill\(s\) were not rolled back: harmless \(promote: argo: step 3 \(100%\) completed at 1h; .+\)$/);
    expect(r.text).toContain('canary drill harmless: promote at step 3 (100%)');
    expect(r.text).toContain('the injected regression was NOT rolled back');
    const report = readJson<{ decision: { action: string }; drills: { caught: boolean }[] }>(join(tmp.dir, 'canary', 'build', 'drill', 'canary', 'canary_report.json'));
    expect(report.decision.action).toBe('promote');
    expect(report.drills.map((d) => d.caught)).toEqual([false]);
  });
});
