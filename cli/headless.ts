/**
 * Headless output: one line per event that matters, or NDJSON with --json. The same event
 * stream feeds this and the TUI.
 *   12:03:04 package/bench-candidate started (local)
 *   12:03:05 package/bench-candidate latency cpu-fp32 p50 3.12 ms  p95 3.40  p99 3.90  n=312
 *   12:03:09 package/gate:latency-p99 verdict PASS latency.p99_ms (target cpu-fp32) = 3.90 meets <= 50.0
 *   12:04:10 evaluate/evaluate progress [########------------] 420/1000 frames 42% 312 frames/s ETA 1.9s (candidate inference)
 *   12:04:12 package/contract-smoke skipped: no Docker engine at /var/run/docker.sock
 *   12:09:40 run r-20261125-215245-a1713b succeeded; 1 skipped: contract-smoke: no Docker engine at /var/run/docker.sock
 */
import type { PaddockEvent } from '../src/schema/events.js';
import { reduceLatency, type TargetLatency } from '../src/live/live-state.js';
import { quantile } from '../src/metrics/latency-histogram.js';
import { formatNumber } from '../src/files/format.js';
import { summarizeSkips } from '../src/pipeline/schedule.js';
import { ASCII_GLYPHS, formatProgress, progressBar, reduceProgressRate, type ProgressRate } from '../views/charts.js';

export interface Reporter {
  onEvent(e: PaddockEvent): void;
  /** Prints what is still buffered (the last latency summary). */
  end(): void;
}

function clock(ts: number | undefined): string {
  const d = new Date(ts ?? Date.now());
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A progress line is printed when a tenth more is done (or, without a total, every 5 intervals) ... */
export const PROGRESS_STEP = 0.1;
/** ... or, however slowly it goes, every 30 intervals; and never twice in one interval. */
export const PROGRESS_HEARTBEAT = 30;

/**
 * `intervalMs`: at most one latency summary per target and one progress line per step in this
 * time (event time, so a replayed stream prints the same lines).
 */
export function createLineReporter(write: (line: string) => void, stageOf: (step: string | undefined) => string | undefined, intervalMs = 1000): Reporter {
  // Per step: its progress phase, when a line was printed last and how much was done then.
  const progress = new Map<string, { rate: ProgressRate; printedAt: number; printedDone: number; printedInPhase: boolean }>();
  const latency = new Map<string, { state: TargetLatency; step?: string; lastPrint: number; unprinted: number }>();
  const where = (step: string | undefined) => {
    if (!step) return 'run';
    const stage = stageOf(step);
    return stage ? `${stage}/${step}` : step;
  };
  const stderrTail = new Map<string, string[]>();
  // Skipped steps and why, in the order they were: the run's last line counts and names them.
  const skipped = new Map<string, string>();
  const printLatency = (target: string) => {
    const l = latency.get(target)!;
    const h = l.state.total;
    write(
      `${clock(Date.now())} ${where(l.step)} latency ${target} p50 ${formatNumber(quantile(h, 0.5))} ms  p95 ${formatNumber(quantile(h, 0.95))}  p99 ${formatNumber(quantile(h, 0.99))}  n=${h.count}`,
    );
    l.lastPrint = Date.now();
    l.unprinted = 0;
  };
  return {
    onEvent(e) {
      const t = clock(e.ts);
      switch (e.type) {
        case 'run': {
          const ended = e.status !== 'started' && e.status !== 'resumed';
          const skips = ended ? summarizeSkips({ skipReasons: Object.fromEntries(skipped) }) : '';
          write(`${t} run ${e.run} ${e.status}${e.error ? `: ${e.error}` : ''}${skips ? `; ${skips}` : ''}`);
          break;
        }
        case 'step':
          if (e.status !== 'started') {
            for (const [target, l] of latency) if (l.step === e.step && l.unprinted > 0) printLatency(target);
          }
          write(`${t} ${where(e.step)} ${e.status}${e.status === 'started' && e.runner ? ` [${e.runner}${e.host && e.host !== 'local' ? ` on ${e.host}` : ''}]` : ''}${e.error ? `: ${e.error}` : ''}${e.status === 'skipped' && e.reason ? `: ${e.reason}` : ''}`);
          if (e.status === 'skipped' && e.step) skipped.set(e.step, e.reason ?? 'skipped');
          // Why a step failed is in its last stderr lines: show them with the failure.
          if (e.status === 'failed' && e.step) for (const line of stderrTail.get(e.step) ?? []) write(`${t} ${where(e.step)}   ${line}`);
          if (e.step && e.status !== 'started') {
            stderrTail.delete(e.step);
            progress.delete(e.step);
          }
          break;
        case 'log':
          if (e.stream === 'stderr' && e.step && e.level !== 'warn' && e.level !== 'error') {
            const tail = stderrTail.get(e.step) ?? [];
            tail.push(e.message);
            if (tail.length > 8) tail.shift();
            stderrTail.set(e.step, tail);
          }
          if (e.level === 'warn' || e.level === 'error' || e.stream === 'paddock') write(`${t} ${where(e.step)} ${e.level.toUpperCase()} ${e.message}`);
          break;
        case 'latency': {
          const prev = latency.get(e.target);
          const state = reduceLatency(prev?.state, e.target, e.samples, e.ts ?? Date.now());
          const entry = { state, step: e.step, lastPrint: prev?.lastPrint ?? 0, unprinted: (prev?.unprinted ?? 0) + e.samples.length };
          latency.set(e.target, entry);
          if (Date.now() - entry.lastPrint >= intervalMs) printLatency(e.target);
          break;
        }
        case 'metric': {
          const ci = e.ci ? ` [${formatNumber(e.ci.lo)}, ${formatNumber(e.ci.hi)}]` : '';
          const tags = [e.target, e.slice].filter(Boolean).join(' ');
          write(`${t} ${where(e.step)} ${e.name}${tags ? ` (${tags})` : ''} ${formatNumber(e.value)}${e.unit ? ` ${e.unit}` : ''}${ci}`);
          break;
        }
        case 'failure':
          write(`${t} ${where(e.step)} FAILURE ${e.severity} ${e.kind} ${e.id}: ${e.title}`);
          break;
        case 'artifact':
          write(`${t} ${where(e.step)} artifact ${e.role} ${e.path} ${e.sha256.slice(0, 12)} ${e.bytes} B`);
          break;
        case 'verdict':
          write(`${t} ${where(e.step)} verdict ${e.verdict.toUpperCase()} ${e.rationale.join('; ')}`);
          break;
        case 'gate':
          write(`${t} ${where(e.step)} gate ${e.gate} ${e.status}${e.actor ? ` by ${e.actor}` : ''}${e.reason ? `: ${e.reason}` : ''}`);
          break;
        case 'progress': {
          if (!e.step) break;
          const at = e.ts ?? Date.now();
          const prev = progress.get(e.step);
          const rate = reduceProgressRate(prev?.rate, e, at);
          const newPhase = !prev || rate.since !== prev.rate.since;
          // The step's first report starts the clock: a step that ends within an interval prints none.
          const p = { rate, printedAt: prev?.printedAt ?? at, printedDone: newPhase ? 0 : prev.printedDone, printedInPhase: newPhase ? false : prev.printedInPhase };
          progress.set(e.step, p);
          const since = at - p.printedAt;
          const finished = rate.total !== undefined && rate.done >= rate.total;
          const enough = rate.total ? rate.done - p.printedDone >= rate.total * PROGRESS_STEP : since >= 5 * intervalMs;
          const due = since >= intervalMs && (enough || since >= PROGRESS_HEARTBEAT * intervalMs);
          // The last report of a phase that printed lines closes it, so the log shows it done.
          if (due || (finished && p.printedInPhase)) {
            const bar = rate.total ? `[${progressBar(rate.done / rate.total, 20, ASCII_GLYPHS)}] ` : '';
            write(`${t} ${where(e.step)} progress ${bar}${formatProgress(rate)}`);
            Object.assign(p, { printedAt: at, printedDone: rate.done, printedInPhase: !finished });
          }
          break;
        }
      }
    },
    end() {
      for (const [target, l] of latency) if (l.unprinted > 0) printLatency(target);
    },
  };
}

export function createJsonReporter(write: (line: string) => void): Reporter {
  return {
    onEvent(e) {
      write(JSON.stringify(e));
    },
    end() {},
  };
}
