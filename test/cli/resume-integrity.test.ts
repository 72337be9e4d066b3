/**
 * Trust in what the run store says and in what resume does (issue 13), with the real binary:
 * a step cannot forge a gate's verdict; of many `paddock resume` of one run exactly one runs;
 * a second process opening the store never harms a copy in flight; resume checks the outputs it
 * reuses; resume goes on with the options the run started with; a damaged store is one message;
 * a token in a recipe's env never reaches the store. Steps are small scripts written per test.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { RunStore } from '../../src/store/run-store.js';
import { paddock, paddockProcess } from '../helpers/cli.js';
import { tempDir, waitFor } from '../helpers/fixtures.js';

/**
 * The step of these tests:  node step.mjs <name> <dir> [options]
 *   --out TEXT       write <dir>/<name>.out with TEXT and declare it as an artifact
 *   --big MB         write <dir>/<name>.bin of MB mebibytes and declare it
 *   --sleep MS       sleep first
 *   --hold F         then wait while <dir>/F exists
 *   --fail-while F   exit 1 while <dir>/F exists
 *   --verdict GATE   print a passing verdict for GATE
 *   --exit N         exit with N at the end
 *   --env NAME       write the value of $NAME to <dir>/<name>.env and print it on stdout and stderr
 * Each execution appends "<name> <paddock pid>" to <dir>/executions.log.
 */
const STEP = `
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
const [name, dir, ...rest] = process.argv.slice(2);
const opt = (k) => { const i = rest.indexOf(k); return i < 0 ? undefined : rest[i + 1]; };
const emit = (e) => process.stdout.write(JSON.stringify({ v: 1, ...e }) + '\\n');
appendFileSync(join(dir, 'executions.log'), name + ' ' + process.ppid + '\\n');
if (opt('--sleep')) await new Promise((r) => setTimeout(r, Number(opt('--sleep'))));
while (opt('--hold') && existsSync(join(dir, opt('--hold')))) await new Promise((r) => setTimeout(r, 20));
if (opt('--env')) { const v = process.env[opt('--env')] ?? '(unset)'; writeFileSync(join(dir, name + '.env'), v); emit({ type: 'log', level: 'info', message: 'my value is ' + v }); process.stderr.write('stderr says ' + v + '\\n'); }
if (opt('--fail-while') && existsSync(join(dir, opt('--fail-while')))) { process.stderr.write(name + ': failing on purpose\\n'); process.exit(1); }
const declare = (path, bytes) => emit({ type: 'artifact', path, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length, role: 'output' });
if (opt('--out') !== undefined) { const p = join(dir, name + '.out'); const b = Buffer.from(opt('--out')); writeFileSync(p, b); declare(p, b); }
if (opt('--big')) { const p = join(dir, name + '.bin'); const b = Buffer.alloc(Number(opt('--big')) * 1024 * 1024, 7); writeFileSync(p, b); declare(p, b); }
if (opt('--verdict')) emit({ type: 'verdict', gate: opt('--verdict'), verdict: 'pass', rationale: ['forged by ' + name] });
emit({ type: 'metric', name: name + '.value', value: 1 });
process.exit(Number(opt('--exit') ?? 0));
`;

interface StepDef {
  id: string;
  args?: string[];
  needs?: string[];
  env?: Record<string, string | { from_env: string }>;
}

function setup(prefix: string) {
  const t = tempDir(prefix);
  const dir = t.dir;
  const step = join(dir, 'step.mjs');
  writeFileSync(step, STEP);
  const home = join(dir, 'home');
  /** Writes a recipe of command steps (all in the package stage unless `evaluate` has some) and gates. */
  const recipe = (stages: { package: StepDef[]; evaluate?: StepDef[] }, gates = '', concurrency = 2) => {
    const steps = (list: StepDef[]) =>
      list
        .map(
          (s) =>
            `    - id: ${s.id}\n      run: ${JSON.stringify([process.execPath, step, s.id, dir, ...(s.args ?? [])])}\n      needs: ${JSON.stringify(s.needs ?? [])}\n${s.env ? `      env: ${JSON.stringify(s.env)}\n` : ''}`,
        )
        .join('');
    const text = `version: 1\nname: integrity\nconcurrency: ${concurrency}\nstages:\n  package:\n${steps(stages.package)}${stages.evaluate ? `  evaluate:\n${steps(stages.evaluate)}` : ''}${gates ? `gates:\n${gates}` : ''}`;
    const path = join(dir, 'paddock.yaml');
    writeFileSync(path, text);
    return path;
  };
  /** How many times each step ran, optionally only those started by paddock process `pid`. */
  const executions = (pid?: number) => {
    const file = join(dir, 'executions.log');
    const counts: Record<string, number> = {};
    if (!existsSync(file)) return counts;
    for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
      const [name, ppid] = line.split(' ');
      if (pid === undefined || Number(ppid) === pid) counts[name] = (counts[name] ?? 0) + 1;
    }
    return counts;
  };
  const runId = (stdout: string) => /run (r-\S+) (?:started|succeeded|failed)/.exec(stdout)![1];
  return { dir, home, recipe, executions, runId, cleanup: t.cleanup };
}

describe('verdicts come only from gates', () => {
  it('a step that prints a passing verdict for the release gate and fails: show and JUnit say the gate was not decided', async () => {
    const t = setup('paddock-forge-');
    try {
      const file = t.recipe(
        { package: [{ id: 'variants', args: ['--verdict', 'release', '--exit', '3'] }] },
        '  - { id: release, stage: package, metric: variants.value, op: ">=", threshold: 5 }\n',
      );
      const junit = join(t.dir, 'gates.xml');
      const r = await paddock(['run', file, '--headless', '--junit', junit], { PADDOCK_HOME: t.home });
      expect(r.exitCode, r.stdout + r.stderr).toBe(2);
      expect(r.stdout).toMatch(/step variants printed a verdict for gate release: kept as the step's own finding; only gate:release decides that gate/);
      const xml = readFileSync(junit, 'utf8');
      expect(xml).not.toContain('forged');
      expect(xml).toMatch(/<testcase classname="paddock.package" name="release"><skipped message="needs review">not decided: the run ended before this gate/);
      const shown = JSON.parse((await paddock(['show', t.runId(r.stdout), '--json'], { PADDOCK_HOME: t.home })).stdout);
      expect(shown.verdicts).toEqual([]);
      expect(shown.stepVerdicts.map((v: { step_id: string; gate: string }) => `${v.step_id}:${v.gate}`)).toEqual(['variants:release']);
      const text = (await paddock(['show', t.runId(r.stdout)], { PADDOCK_HOME: t.home })).stdout;
      expect(text).not.toMatch(/^release\s+PASS/m);
      expect(text).toMatch(/^variants\s+release\s+PASS\s+forged by variants/m);
    } finally {
      t.cleanup();
    }
  });

  it('when the gate does run, its own decision is what JUnit and show report, not the step\'s', async () => {
    const t = setup('paddock-forge2-');
    try {
      const file = t.recipe(
        { package: [{ id: 'variants', args: ['--verdict', 'release'] }] },
        '  - { id: release, stage: package, metric: variants.value, op: ">=", threshold: 5 }\n',
      );
      const junit = join(t.dir, 'gates.xml');
      const r = await paddock(['run', file, '--headless', '--junit', junit], { PADDOCK_HOME: t.home });
      expect(r.exitCode, r.stdout + r.stderr).toBe(1);
      expect(readFileSync(junit, 'utf8')).toMatch(/failures="1"/);
      const shown = JSON.parse((await paddock(['show', t.runId(r.stdout), '--json'], { PADDOCK_HOME: t.home })).stdout);
      expect(shown.verdicts.map((v: { step_id: string; verdict: string }) => `${v.step_id}:${v.verdict}`)).toEqual(['gate:release:fail']);
    } finally {
      t.cleanup();
    }
  });
});

describe('resume claims its run', () => {
  it('8 paddock resume of one stopped run at once: exactly one runs it, the others are refused with the reason (2 rounds)', async () => {
    const t = setup('paddock-claim-');
    try {
      for (let round = 0; round < 2; round++) {
        writeFileSync(join(t.dir, 'broken'), '');
        const file = t.recipe({ package: [{ id: `slow${round}`, args: ['--sleep', '4000', '--fail-while', 'broken'] }] });
        const first = await paddock(['run', file, '--headless'], { PADDOCK_HOME: t.home });
        expect(first.exitCode).toBe(2);
        const id = t.runId(first.stdout);
        rmSync(join(t.dir, 'broken'));
        const procs = Array.from({ length: 8 }, () => paddockProcess(['resume', id, '--headless'], { PADDOCK_HOME: t.home }));
        const results = await Promise.all(procs);
        const ran = procs.filter((p) => (t.executions(p.pid)[`slow${round}`] ?? 0) > 0);
        expect(ran, results.map((r) => String(r.stdout) + String(r.stderr)).join('\n---\n')).toHaveLength(1);
        const winner = results[procs.indexOf(ran[0])];
        expect(winner.exitCode).toBe(0);
        for (const r of results.filter((x) => x !== winner)) {
          // Refused while the winner runs, or (a slow start) found the run already finished.
          const out = String(r.stdout) + String(r.stderr);
          if (r.exitCode === 2) expect(out).toMatch(new RegExp(`paddock resume: run ${id} is still running \\(pid ${ran[0].pid}\\); not resumed twice`));
          else expect(out).toMatch(/already succeeded; nothing to resume/);
          expect(out).not.toMatch(/UNIQUE constraint/);
        }
        const store = new RunStore(t.home, { readonly: true });
        try {
          expect(store.getRun(id)?.status).toBe('succeeded');
          expect(store.events(id, 'run').filter((e) => (e as { status: string }).status === 'resumed')).toHaveLength(1);
        } finally {
          store.close();
        }
      }
    } finally {
      t.cleanup();
    }
  });
});

describe('the store never harms a live process', () => {
  it('paddock runs, show and a second writable store open while a 40 MiB artifact copy is paused: the copy completes', async () => {
    const t = setup('paddock-tmp-');
    try {
      const file = t.recipe({ package: [{ id: 'big', args: ['--big', '40'] }] });
      const pause = join(t.dir, 'paused');
      const child = paddockProcess(['run', file, '--headless'], { PADDOCK_HOME: t.home, PADDOCK_PAUSE_AT: 'cas.write:3', PADDOCK_PAUSE_FILE: pause });
      await waitFor(() => existsSync(pause), 'the copy to pause', 30_000);
      const tmp = join(t.home, 'cas', 'tmp');
      const inFlight = readdirSync(tmp);
      expect(inFlight).toHaveLength(1);
      expect(inFlight[0]).toMatch(new RegExp(`^${child.pid}@`));
      const id = JSON.parse((await paddock(['runs', '--json'], { PADDOCK_HOME: t.home })).stdout)[0].id;
      expect((await paddock(['show', id], { PADDOCK_HOME: t.home })).exitCode).toBe(0);
      // A writable open (another run, a resume, the workbench) sweeps only dead writers' files.
      new RunStore(t.home).close();
      expect(readdirSync(tmp)).toEqual(inFlight);
      rmSync(pause);
      const r = await child;
      expect(r.exitCode, String(r.stdout) + String(r.stderr)).toBe(0);
      const store = new RunStore(t.home, { readonly: true });
      try {
        const [a] = store.currentArtifacts(id);
        expect(a.bytes).toBe(40 * 1024 * 1024);
        expect(store.cas.has(a.sha256)).toBe(true);
      } finally {
        store.close();
      }
    } finally {
      t.cleanup();
    }
  });
});

describe('resume checks what it reuses', () => {
  it.each(['changed', 'missing'] as const)('an output %s after a kill makes its step run again, and the log says so', async (how) => {
    const t = setup('paddock-reuse-');
    try {
      writeFileSync(join(t.dir, 'hold'), '');
      const file = t.recipe({ package: [{ id: 'export', args: ['--out', 'good model'] }, { id: 'slow', args: ['--hold', 'hold'], needs: ['export'] }, { id: 'use', needs: ['slow'] }] }, '', 1);
      const child = paddockProcess(['run', file, '--headless'], { PADDOCK_HOME: t.home });
      await waitFor(() => t.executions().slow, 'the slow step to start', 30_000);
      child.kill('SIGKILL');
      const first = await child;
      expect(first.signal).toBe('SIGKILL');
      const out = join(t.dir, 'export.out');
      if (how === 'changed') writeFileSync(out, 'tampered model');
      else rmSync(out);
      const id = t.runId(String(first.stdout));
      rmSync(join(t.dir, 'hold'));
      const proc = paddockProcess(['resume', id, '--headless'], { PADDOCK_HOME: t.home });
      const r = await proc;
      expect(r.exitCode, String(r.stdout) + String(r.stderr)).toBe(0);
      const good = createHash('sha256').update('good model').digest('hex');
      expect(String(r.stdout)).toMatch(
        how === 'changed'
          ? new RegExp(`step export: output ${out.replace(/[.]/g, '\\.')} changed since it ran \\(sha256 ${good.slice(0, 12)}, now [0-9a-f]{12}\\); running it again`)
          : new RegExp(`step export: output ${out.replace(/[.]/g, '\\.')} is missing since it ran \\(it had sha256 ${good.slice(0, 12)}\\); running it again`),
      );
      expect(t.executions(proc.pid).export).toBe(1);
      // The run ends on the step's own output, not the tampered file.
      expect(readFileSync(out, 'utf8')).toBe('good model');
    } finally {
      t.cleanup();
    }
  }, 120_000);

  it('an unchanged output is reused as before', async () => {
    const t = setup('paddock-reuse2-');
    try {
      writeFileSync(join(t.dir, 'broken'), '');
      const file = t.recipe({ package: [{ id: 'export', args: ['--out', 'good model'] }, { id: 'after', args: ['--fail-while', 'broken'], needs: ['export'] }] });
      const first = await paddock(['run', file, '--headless'], { PADDOCK_HOME: t.home });
      expect(first.exitCode).toBe(2);
      rmSync(join(t.dir, 'broken'));
      const proc = paddockProcess(['resume', t.runId(first.stdout), '--headless'], { PADDOCK_HOME: t.home });
      const r = await proc;
      expect(r.exitCode).toBe(0);
      expect(t.executions(proc.pid)).toEqual({ after: 1 });
      expect(String(r.stdout)).toMatch(/export: inputs unchanged .* reusing attempt 1/);
    } finally {
      t.cleanup();
    }
  });
});

describe('resume remembers how the run was started', () => {
  it('a headless run with --gate-policy approve, killed before its review gate, resumed without the flag, ends approved', async () => {
    const t = setup('paddock-policy-');
    try {
      const file = t.recipe(
        { package: [{ id: 'slow', args: ['--hold', 'hold'] }] },
        '  - { id: signoff, stage: package, metric: slow.value, op: ">=", threshold: 1, approval: required }\n',
      );
      const junit = join(t.dir, 'gates.xml');
      writeFileSync(join(t.dir, 'hold'), '');
      const child = paddockProcess(['run', file, '--headless', '--gate-policy', 'approve', '--junit', junit, '--concurrency', '3'], { PADDOCK_HOME: t.home });
      await waitFor(() => t.executions().slow, 'the slow step to start', 30_000);
      child.kill('SIGKILL');
      const id = t.runId(String((await child).stdout));
      rmSync(join(t.dir, 'hold'));
      const r = await paddock(['resume', id, '--headless'], { PADDOCK_HOME: t.home });
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/gates that need a person are answered by --gate-policy approve, as when run \S+ started/);
      expect(r.stdout).toMatch(/gate signoff approved by \S+ \(--gate-policy approve\): approved by policy/);
      // The JUnit file of the run's start was written on resume too.
      expect(readFileSync(junit, 'utf8')).toMatch(/approved by \S+ \(--gate-policy approve\)/);
      const store = new RunStore(t.home, { readonly: true });
      try {
        expect(store.runOptions(id)).toMatchObject({ gatePolicy: 'approve', junit, concurrency: 3 });
        expect(store.approvals(id).map((a) => `${a.gate}:${a.decision}:${a.reason}`)).toEqual(['signoff:approved:approved by policy']);
      } finally {
        store.close();
      }
    } finally {
      t.cleanup();
    }
  }, 150_000);

  it('a flag on the resume command line wins over the recorded one; --host cannot change', async () => {
    const t = setup('paddock-policy2-');
    try {
      writeFileSync(join(t.dir, 'broken'), '');
      const file = t.recipe(
        { package: [{ id: 'a', args: ['--fail-while', 'broken'] }] },
        '  - { id: signoff, stage: package, metric: a.value, op: ">=", threshold: 1, approval: required }\n',
      );
      const first = await paddock(['run', file, '--headless', '--gate-policy', 'approve'], { PADDOCK_HOME: t.home });
      expect(first.exitCode).toBe(2);
      rmSync(join(t.dir, 'broken'));
      const id = t.runId(first.stdout);
      const moved = await paddock(['resume', id, '--headless', '--host', 'docker'], { PADDOCK_HOME: t.home });
      expect(moved.exitCode).toBe(2);
      expect(moved.stderr).toMatch(/--host docker: run \S+ runs its targets where its recipe says, and a resume cannot move them/);
      const r = await paddock(['resume', id, '--headless', '--gate-policy', 'reject'], { PADDOCK_HOME: t.home });
      expect(r.exitCode, r.stdout + r.stderr).toBe(1);
      expect(r.stdout).toMatch(/gate signoff rejected by \S+ \(--gate-policy reject\)/);
    } finally {
      t.cleanup();
    }
  });
});

describe('a damaged runs.sqlite', () => {
  const kinds = ['truncated', 'garbage bytes', 'not a database', 'a newer schema'] as const;
  it.each(kinds)('%s: one message naming it and what to do, exit 2, for runs, show, run, resume and demo', async (kind) => {
    const t = setup('paddock-damaged-');
    try {
      const file = t.recipe({ package: [{ id: 'a' }, { id: 'b', args: ['--out', 'x'.repeat(20000)] }] });
      const ok = await paddock(['run', file, '--headless'], { PADDOCK_HOME: t.home });
      expect(ok.exitCode).toBe(0);
      const id = t.runId(ok.stdout);
      const db = join(t.home, 'runs.sqlite');
      if (kind === 'truncated') truncateSync(db, Math.floor(statSync(db).size / 2));
      if (kind === 'garbage bytes') {
        const bytes = readFileSync(db);
        for (let i = 4096; i < bytes.length; i++) bytes[i] = (i * 131) & 0xff;
        writeFileSync(db, bytes);
      }
      if (kind === 'not a database') writeFileSync(db, 'hello, I am a text file\n'.repeat(100));
      if (kind === 'a newer schema') {
        const raw = new Database(db);
        raw.prepare('INSERT INTO schema_migrations VALUES (999, 0)').run();
        raw.close();
      }
      const commands = [['runs'], ['show', id], ['run', file, '--headless'], ['resume', id, '--headless'], ['demo', '--headless']];
      for (const args of commands) {
        const r = await paddock(args, { PADDOCK_HOME: t.home });
        const what = `${kind}: paddock ${args[0]}`;
        expect(r.exitCode, `${what}\n${r.stdout}\n${r.stderr}`).toBe(2);
        const lines = r.stderr.trim().split('\n');
        expect(lines, what).toHaveLength(1);
        expect(lines[0], what).toContain(db);
        expect(lines[0], what).toMatch(kind === 'a newer schema' ? /has schema version 999, newer than this paddock's \d+: use the newer paddock/ : /is damaged \(.*\): move it aside/);
        expect(lines[0], what).toMatch(/mv \S+runs\.sqlite \S+runs\.sqlite\.corrupt-\d{8}-\d{6}/);
        expect(r.stderr, what).not.toMatch(/\n\s+at |internal error/);
      }
    } finally {
      t.cleanup();
    }
  }, 120_000);
});

describe('secrets in a recipe\'s env', () => {
  const TOKEN = 'ghp_Zq8Xw2Lm4Np6Rt8Vb0Cd2Fg4Hj6Kl8Mn0Pq2';
  const FROM_ENV = 'sk-live-Hy7Tg5Rf3Ed1Ws9Qa7Zx5Cv3Bn1Mk9Lj7Pu';

  it('a token in env: (literal or {from_env}) reaches the step, and never the store or the terminal; resume gives it again', async () => {
    const t = setup('paddock-secret-');
    try {
      writeFileSync(join(t.dir, 'broken'), '');
      const file = t.recipe({
        package: [
          { id: 'literal', args: ['--env', 'API_TOKEN', '--fail-while', 'broken'], env: { API_TOKEN: TOKEN, MODE: 'fast' } },
          { id: 'fromenv', args: ['--env', 'DEPLOY_KEY', '--fail-while', 'broken'], env: { DEPLOY_KEY: { from_env: 'PADDOCK_TEST_DEPLOY_KEY' } } },
        ],
      });
      const env = { PADDOCK_HOME: t.home, PADDOCK_TEST_DEPLOY_KEY: FROM_ENV };
      const first = await paddock(['run', file, '--headless'], env);
      expect(first.exitCode, first.stdout + first.stderr).toBe(2);
      expect(readFileSync(join(t.dir, 'literal.env'), 'utf8')).toBe(TOKEN);
      expect(readFileSync(join(t.dir, 'fromenv.env'), 'utf8')).toBe(FROM_ENV);
      // A resume runs both again: the literal is read from the recipe file (the store has it redacted).
      rmSync(join(t.dir, 'literal.env'));
      rmSync(join(t.dir, 'fromenv.env'));
      rmSync(join(t.dir, 'broken'));
      const id = t.runId(first.stdout);
      const r = await paddock(['resume', id, '--headless'], env);
      expect(r.exitCode, r.stdout + r.stderr).toBe(0);
      expect(readFileSync(join(t.dir, 'literal.env'), 'utf8')).toBe(TOKEN);
      expect(readFileSync(join(t.dir, 'fromenv.env'), 'utf8')).toBe(FROM_ENV);
      // Nor the terminal: headless lines (a CI log) show what the store keeps.
      for (const out of [first.stdout, first.stderr, r.stdout, r.stderr]) {
        expect(out.includes(TOKEN) || out.includes(FROM_ENV), out).toBe(false);
      }
      expect(first.stdout + first.stderr).toContain('[redacted]');
      const store = new RunStore(t.home, { readonly: true });
      try {
        expect(store.getRun(id)?.recipe_text).toMatch(/"?API_TOKEN"?: "\[redacted\]"/);
        expect(store.getRun(id)?.recipe_text).toContain('from_env');
        const logs = store.events(id, 'log').map((e) => (e as { message: string }).message);
        expect(logs).toContain('my value is [redacted]');
        expect(logs).toContain('stderr says [redacted]');
      } finally {
        store.close();
      }
      for (const f of readdirSync(t.home).filter((n) => n.startsWith('runs.sqlite'))) {
        const bytes = readFileSync(join(t.home, f));
        expect(bytes.includes(TOKEN), `${f} holds the literal token`).toBe(false);
        expect(bytes.includes(FROM_ENV), `${f} holds the from_env token`).toBe(false);
      }
    } finally {
      t.cleanup();
    }
  });

  it('a {from_env} variable that is not set fails its step by name', async () => {
    const t = setup('paddock-secret2-');
    try {
      const file = t.recipe({ package: [{ id: 'needs-key', env: { DEPLOY_KEY: { from_env: 'PADDOCK_TEST_NOT_SET' } } }] });
      const r = await paddock(['run', file, '--headless'], { PADDOCK_HOME: t.home });
      expect(r.exitCode).toBe(2);
      expect(r.stdout + r.stderr).toMatch(/step needs-key: env DEPLOY_KEY comes from \$PADDOCK_TEST_NOT_SET, which is not set in paddock's environment/);
    } finally {
      t.cleanup();
    }
  });
});
