/**
 * The local runner: runs a step's command as a child process with execa. stdout lines are
 * event-protocol lines, stderr lines become `log` events, the exit status becomes the step's
 * status. The child leads its own process group so that abort and timeout stop the whole
 * tree: SIGTERM, then SIGKILL after the grace period.
 */
import { execa } from 'execa';
import { LineSplitter, EventLineParser } from '../src/schema/event-lines.js';
import type { Event } from '../src/schema/events.js';
import type { Runner, StepResult, StepSpec } from '../src/pipeline/runner.js';
import { signalTree } from './process-tree.js';

/** stderr lines longer than this are cut (they are logs, not protocol). */
const MAX_STDERR_LINE = 16 * 1024;

export interface LocalRunnerOptions {
  /** Added to every step's environment. */
  env?: Record<string, string>;
}

/** Wires a child's stdout/stderr into events; shared by every process-based runner. */
export class StepOutputDecoder {
  private readonly parser = new EventLineParser();
  private readonly stderr = new LineSplitter(MAX_STDERR_LINE);
  protocolErrors = 0;

  constructor(
    private readonly stepId: string,
    private readonly emit: (e: Event) => void,
  ) {}

  stdout(chunk: Buffer): void {
    this.handle(this.parser.push(chunk));
  }

  stderrChunk(chunk: Buffer): void {
    for (const l of this.stderr.push(chunk)) this.stderrLine(l);
  }

  end(): void {
    this.handle(this.parser.end());
    for (const l of this.stderr.end()) this.stderrLine(l);
  }

  private stderrLine(l: { line: number; text: string } | { line: number; overflowBytes: number }): void {
    const message = 'text' in l ? l.text : `(stderr line ${l.line} of ${l.overflowBytes} bytes omitted)`;
    this.emit({ v: 1, type: 'log', level: 'info', stream: 'stderr', message, step: this.stepId, ts: Date.now() });
  }

  private handle(results: ReturnType<EventLineParser['push']>): void {
    for (const r of results) {
      if (r.ok) {
        const e = r.event;
        if (e.type === 'step') {
          // Only the runner reports a step's life; a step's own claim is shown, not obeyed.
          this.emit({ v: 1, type: 'log', level: 'warn', stream: 'paddock', step: this.stepId, ts: Date.now(), message: `stdout line ${r.line}: a step cannot report its own status ("${e.status}"); ignored` });
          continue;
        }
        e.step = this.stepId;
        if (e.ts === undefined) e.ts = Date.now();
        this.emit(e);
      } else {
        this.protocolErrors += 1;
        this.emit({
          v: 1,
          type: 'log',
          level: 'error',
          stream: 'paddock',
          step: this.stepId,
          ts: Date.now(),
          message: `stdout ${r.error}${r.text ? `: ${r.text}` : ''}`,
        });
      }
    }
  }
}

/** Process groups of running steps, for a last-resort kill when paddock must exit at once. */
const activeChildren = new Set<number>();

/** SIGKILLs the process trees of every running step (a second Ctrl+C). */
export function killActiveChildren(): void {
  for (const pid of activeChildren) signalTree(pid, 'SIGKILL');
}

/** Creates the local runner. */
export function createLocalRunner(options: LocalRunnerOptions = {}): Runner {
  return {
    kind: 'local',
    host: 'local',
    async run(spec: StepSpec, ctx): Promise<StepResult> {
      if (!spec.command || spec.command.length === 0) {
        return { status: 'failed', error: `step ${spec.stepId}: the local runner needs a command`, protocolErrors: 0 };
      }
      if (ctx.signal.aborted) return { status: 'cancelled', error: 'cancelled before it started', protocolErrors: 0 };
      const [file, ...args] = spec.command;
      const decoder = new StepOutputDecoder(spec.stepId, ctx.emit);
      const child = execa(file, args, {
        cwd: spec.cwd,
        env: { ...options.env, ...spec.env, PADDOCK_RUN_ID: spec.runId, PADDOCK_STEP_ID: spec.stepId },
        extendEnv: true,
        detached: true,
        stdin: 'ignore',
        buffer: false,
        reject: false,
        stripFinalNewline: false,
      });
      if (child.pid !== undefined) {
        activeChildren.add(child.pid);
        ctx.onSpawn?.({ pid: child.pid });
      }
      child.stdout?.on('data', (c: Buffer) => decoder.stdout(c));
      child.stderr?.on('data', (c: Buffer) => decoder.stderrChunk(c));

      let stopReason: 'timeout' | 'abort' | undefined;
      let killTimer: NodeJS.Timeout | undefined;
      const graceMs = spec.graceMs ?? 3000;
      const stop = (reason: 'timeout' | 'abort') => {
        if (stopReason || child.pid === undefined) return;
        stopReason = reason;
        signalTree(child.pid, 'SIGTERM');
        killTimer = setTimeout(() => child.pid !== undefined && signalTree(child.pid, 'SIGKILL'), graceMs);
      };
      const onAbort = () => stop('abort');
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      const timeoutTimer = spec.timeoutMs ? setTimeout(() => stop('timeout'), spec.timeoutMs) : undefined;
      // A step's background processes end with it.
      child.once('exit', () => {
        if (child.pid !== undefined) {
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            // no group members left
          }
        }
      });

      const result = await child;
      if (child.pid !== undefined) activeChildren.delete(child.pid);
      ctx.signal.removeEventListener('abort', onAbort);
      if (timeoutTimer) clearTimeout(timeoutTimer);
      if (killTimer) clearTimeout(killTimer);
      decoder.end();
      const base = { exitCode: result.exitCode, signal: result.signal, protocolErrors: decoder.protocolErrors };
      if (stopReason === 'abort') return { ...base, status: 'cancelled', error: 'cancelled: the run was stopped' };
      if (stopReason === 'timeout') return { ...base, status: 'failed', error: `timed out after ${(spec.timeoutMs! / 1000).toFixed(1)} s` };
      if (result.exitCode === 0) return { ...base, status: 'succeeded' };
      if (result.exitCode === undefined && !result.signal) {
        const code = (result as { code?: string }).code;
        return { ...base, status: 'failed', error: `could not start ${JSON.stringify(file)}: ${code ?? result.shortMessage}` };
      }
      if (result.signal) return { ...base, status: 'failed', error: `killed by ${result.signal}` };
      return { ...base, status: 'failed', error: `exited with status ${result.exitCode}` };
    },
  };
}
