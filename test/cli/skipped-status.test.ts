/**
 * A step that skips its own work, end to end through the real binary: it prints a `skip` event
 * with its reason and exits 0 (as the contract smoke does with no Triton image). It is shown and
 * stored as skipped with the reason (the headless line, the run's last line, `paddock show` and
 * --json, --json's step event, JUnit), what needs it runs, the exit code is 0, and a resume does
 * not run it again on the same inputs. A need that failed still blocks, and a step that skips and
 * then fails is failed.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { paddock } from '../helpers/cli.js';
import { ROOT, tempDir } from '../helpers/fixtures.js';
import { gatesJunit } from '../../src/evaluate/reports.js';

const RECORD = join(ROOT, 'test', 'fixtures', 'record-step.mjs');
const REASON = 'no Triton image on this Docker engine (contract-smoke.with.image)';

/** A step that counts its executions in <dir>/<name>.count, says it skips, and exits with `code`. */
const SKIP_STEP = `import { appendFileSync } from 'node:fs';
const [dir, name, code] = process.argv.slice(2);
appendFileSync(dir + '/' + name + '.count', 'x');
const emit = (e) => process.stdout.write(JSON.stringify({ v: 1, ...e }) + '\\n');
emit({ type: 'log', level: 'warn', message: 'contract smoke SKIPPED: ' + ${JSON.stringify(REASON)} });
emit({ type: 'metric', name: 'smoke.ran', value: 0 });
emit({ type: 'skip', reason: ${JSON.stringify(REASON)} });
process.exit(Number(code));
`;

function recipe(dir: string, smokeExit = 0): string {
  writeFileSync(join(dir, 'skip-step.mjs'), SKIP_STEP);
  const node = JSON.stringify(process.execPath);
  const rec = (name: string, needs: string) => `    - { id: ${name}, needs: [${needs}], run: [${node}, ${JSON.stringify(RECORD)}, ${name}, ${JSON.stringify(dir)}, "10"] }\n`;
  const file = join(dir, 'p.yaml');
  writeFileSync(
    file,
    `version: 1
name: skips
concurrency: 1
stages:
  package:
    - { id: smoke, run: [${node}, ${JSON.stringify(join(dir, 'skip-step.mjs'))}, ${JSON.stringify(dir)}, smoke, "${smokeExit}"], produces: [smoke.ran] }
${rec('sbom', 'smoke')}${rec('last', 'sbom')}gates:
  - { id: sbom-ran, stage: package, metric: sbom.ran, op: ">=", threshold: 1 }
`,
  );
  return file;
}

const count = (dir: string, name: string) => (existsSync(join(dir, `${name}.count`)) ? readFileSync(join(dir, `${name}.count`), 'utf8').length : 0);

interface ShownStep {
  step_id: string;
  status: string;
  reason?: string;
  error: string | null;
  skipped_itself: number;
  attempt: number;
  reused: number;
}

describe('a step that skips itself', () => {
  it('is skipped with its reason everywhere, what needs it runs, exit 0; a resume keeps it skipped without running it', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const env = { PADDOCK_HOME: join(dir, 'home') };
      const file = recipe(dir);
      const junit = join(dir, 'gates.xml');
      // The last step fails first, so that the run can be resumed.
      writeFileSync(join(dir, 'last.fail'), '');
      const first = await paddock(['run', file, '--junit', junit], env);
      expect(first.exitCode, first.stdout + first.stderr).toBe(2);
      expect(first.stdout).toMatch(new RegExp(`package/smoke skipped: ${REASON.replace(/[().]/g, '\\$&')}$`, 'm'));
      expect(first.stdout).not.toMatch(/package\/smoke succeeded/);
      // What needs it ran.
      expect(first.stdout).toMatch(/package\/sbom succeeded/);
      expect(existsSync(join(dir, 'sbom.times'))).toBe(true);
      // The gate after the failed step was not run: counted and named too.
      expect(first.stdout).toMatch(/run (r-\S+) failed: last: exited with status 1; 2 skipped: smoke: no Triton image .*; gate:sbom-ran: not run: last did not succeed$/m);
      const id = /run (r-\S+) failed/.exec(first.stdout)![1];
      expect(count(dir, 'smoke')).toBe(1);

      // The resume: the self-skipped step is reused (not run again), and still skipped, with its reason.
      rmSync(join(dir, 'last.fail'));
      const second = await paddock(['resume', id], env);
      expect(second.exitCode, second.stdout + second.stderr).toBe(0);
      expect(count(dir, 'smoke')).toBe(1);
      expect(second.stdout).toMatch(/smoke: inputs unchanged \([0-9a-f]{12}\), reusing attempt 1/);
      expect(second.stdout).toMatch(/package\/smoke skipped: no Triton image/);
      expect(second.stdout).toMatch(new RegExp(`run ${id} succeeded; 1 skipped: smoke: no Triton image`));
      expect(second.stdout).toMatch(/gate:sbom-ran verdict PASS/);

      const shown = await paddock(['show', id], env);
      expect(shown.exitCode).toBe(0);
      expect(shown.stdout).toMatch(/^package +smoke +skipped \(reused\) +1 +local +\S+ +no Triton image on this Docker engine/m);
      expect(shown.stdout).toMatch(/^1 skipped: smoke: no Triton image/m);
      const json = JSON.parse((await paddock(['show', id, '--json'], env)).stdout) as { steps: ShownStep[] };
      const byId = Object.fromEntries(json.steps.map((s) => [s.step_id, s]));
      expect(byId.smoke).toMatchObject({ status: 'skipped', reason: REASON, error: REASON, skipped_itself: 1, attempt: 1, reused: 1 });
      expect(byId.sbom).toMatchObject({ status: 'succeeded', skipped_itself: 0 });
      expect(byId.last).toMatchObject({ status: 'succeeded', attempt: 2 });

      // The JUnit file (the resume, keeping the run's --junit, wrote it again: the same skip, reused).
      const xml = readFileSync(junit, 'utf8');
      expect(xml).toMatch(/<testcase classname="paddock.package.steps" name="smoke"><skipped message="no Triton image on this Docker engine \(contract-smoke.with.image\)"\/><\/testcase>/);
      expect(xml).toMatch(/<testcase classname="paddock.package.steps" name="sbom"><\/testcase>/);
    } finally {
      cleanup();
    }
  });

  it('--json prints the step event that says skipped, with the reason', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const r = await paddock(['run', recipe(dir), '--json'], { PADDOCK_HOME: join(dir, 'home') });
      expect(r.exitCode, r.stderr).toBe(0);
      const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; step?: string; status?: string; reason?: string });
      expect(events.filter((e) => e.type === 'step' && e.step === 'smoke').map((e) => [e.status, e.reason])).toEqual([
        ['started', undefined],
        ['skipped', REASON],
      ]);
      expect(events.some((e) => e.type === 'skip' && e.step === 'smoke' && e.reason === REASON)).toBe(true);
      expect(events.filter((e) => e.type === 'step' && e.step === 'last').map((e) => e.status)).toEqual(['started', 'succeeded']);
    } finally {
      cleanup();
    }
  });

  it('a step that skips and then fails is failed, and what needs it is not run', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const env = { PADDOCK_HOME: join(dir, 'home') };
      const r = await paddock(['run', recipe(dir, 3)], env);
      expect(r.exitCode).toBe(2);
      expect(r.stdout).toMatch(/package\/smoke failed: exited with status 3/);
      expect(r.stdout).toMatch(/package\/sbom skipped: not run: smoke did not succeed/);
      expect(existsSync(join(dir, 'sbom.times'))).toBe(false);
      const id = /run (r-\S+) failed/.exec(r.stdout)![1];
      const json = JSON.parse((await paddock(['show', id, '--json'], env)).stdout) as { steps: ShownStep[] };
      const byId = Object.fromEntries(json.steps.map((s) => [s.step_id, s]));
      expect(byId.smoke).toMatchObject({ status: 'failed', skipped_itself: 0 });
      // Skipped because a need failed: never ran, and a resume would run it.
      expect(byId.sbom).toMatchObject({ status: 'skipped', reason: 'not run: smoke did not succeed', skipped_itself: 0, attempt: 0 });
    } finally {
      cleanup();
    }
  });
});

describe('JUnit of the steps', () => {
  it('a self-skipped step is <skipped message="why">, a failed one a <failure>; the totals count them', () => {
    const xml = gatesJunit('r-1', [{ gate: 'g', stage: 'package', verdict: 'pass', rationale: ['ok'] }], [
      { step: 'smoke', stage: 'package', status: 'skipped', reason: 'no <Triton> image' },
      { step: 'sbom', stage: 'package', status: 'succeeded' },
      { step: 'boom', stage: 'evaluate', status: 'failed', reason: 'exited with status 1' },
      { step: 'never', stage: 'promote', status: 'pending' },
    ]);
    expect(xml).toMatch(/<testsuites name="paddock gates" tests="5" failures="1" skipped="2">/);
    expect(xml).toMatch(/<testsuite name="r-1 steps" tests="4" failures="1" skipped="2">/);
    expect(xml).toContain('<testcase classname="paddock.package.steps" name="smoke"><skipped message="no &lt;Triton&gt; image"/></testcase>');
    expect(xml).toContain('<testcase classname="paddock.evaluate.steps" name="boom"><failure message="exited with status 1" type="failed"/></testcase>');
    expect(xml).toContain('<testcase classname="paddock.promote.steps" name="never"><skipped message="not run (pending)"/></testcase>');
    // Without steps, the gates' JUnit is as it was.
    expect(gatesJunit('r-1', [])).not.toContain('steps');
  });
});
