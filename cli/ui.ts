/**
 * `paddock ui [<run-id>]`: the workbench on the run store, for looking at past runs, triaging
 * failures and reading gate records. Needs a terminal.
 */
import { RunStore } from '../src/store/run-store.js';
import { currentActor } from './identity.js';

export async function uiCommand(opts: { home: string; runId?: string }): Promise<number> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    process.stderr.write('paddock ui: needs a terminal (stdin and stdout); for scripts, use paddock runs / paddock show --json\n');
    return 2;
  }
  const store = new RunStore(opts.home);
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
    await openWorkbench({ store, actor: currentActor(), runId, screen: runId ? 'run' : 'runs' });
    return 0;
  } finally {
    store.close();
  }
}
