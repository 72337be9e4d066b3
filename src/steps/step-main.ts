/**
 * Entry point of paddock's built-in steps when they run as their own process:
 *   node dist/step.js <step> '<json params>'
 * The step is looked up in the catalogue, its parameters checked against the schema its body
 * declares, and its body run. A step prints event-protocol lines on stdout and exits 0 on success.
 */
import { formatZodIssues } from '../schema/event-lines.js';
import { CATALOGUE, findStep } from './catalogue.js';
import { describeError, debugWanted } from '../files/input-error.js';

const [name, paramsText] = process.argv.slice(2);

async function main(): Promise<number> {
  let params: unknown = {};
  try {
    params = paramsText ? JSON.parse(paramsText) : {};
  } catch (err) {
    process.stderr.write(`paddock step ${name}: parameters are not valid JSON: ${(err as Error).message}\n`);
    return 2;
  }
  const step = findStep(name ?? '');
  if (!step?.load) {
    const known = CATALOGUE.filter((s) => s.load).map((s) => s.name);
    process.stderr.write(`paddock step: unknown built-in step ${JSON.stringify(name)} (known: ${known.join(', ')})\n`);
    return 2;
  }
  const { params: schema, run } = await step.load();
  const parsed = schema.safeParse(params);
  if (!parsed.success) {
    process.stderr.write(`${name}: invalid parameters: ${formatZodIssues(parsed.error)}\n`);
    return 2;
  }
  return run(parsed.data as never);
}

// The exit code is set, never exit() called: only bin/paddock.ts exits the process.
main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // The step's error is its message; its stack only under PADDOCK_DEBUG (paddock --debug sets it).
    process.stderr.write(`paddock step ${name}: ${describeError(err, debugWanted([]), { plain: true })}\n`);
    process.exitCode = 1;
  },
);
