/**
 * `paddock steps`: the built-in steps of the catalogue (src/steps/catalogue.ts), a line each:
 * name, stage, where it can run (any Docker host in paddock's image, one with an image the recipe
 * names, or this machine only, with why), what it does, and the metrics it produces (names or
 * patterns: a gate may name only these, src/schema/recipe-load.ts).
 */
import { CATALOGUE } from '../src/steps/catalogue.js';
import { formatTable } from '../src/files/format.js';

function where(c: (typeof CATALOGUE)[number]['container']): string {
  if ('unsupported' in c) return `this machine only (${c.unsupported})`;
  return c.image === 'paddock' ? "any host (paddock's step image)" : `a host, with ${c.image.recipe}`;
}

export function stepsCommand(opts: { json: boolean; write?: (line: string) => void }): number {
  const write = opts.write ?? ((l: string) => process.stdout.write(`${l}\n`));
  if (opts.json) {
    for (const s of CATALOGUE) write(JSON.stringify({ name: s.name, stage: s.stage, summary: s.summary, produces: s.produces ?? [], container: 'unsupported' in s.container ? { unsupported: s.container.unsupported } : { image: s.container.image === 'paddock' ? 'paddock' : 'recipe' } }));
    return 0;
  }
  write(formatTable(['STEP', 'STAGE', 'WHAT IT DOES'], CATALOGUE.map((s) => [s.name, s.stage, s.summary])));
  write('');
  write(formatTable(['STEP', 'RUNS ON'], CATALOGUE.map((s) => [s.name, where(s.container)])));
  write('');
  write(formatTable(['STEP', 'PRODUCES (metrics a gate may name)'], CATALOGUE.map((s) => [s.name, s.produces?.length ? s.produces.join(', ') : '(none)'])));
  return 0;
}
