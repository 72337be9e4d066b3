/**
 * Does the workbench disturb what it measures? The real binary in tmux at 80x24 runs a step that
 * streams 10,000 latency samples/s for 30 s, with the latency screen shown; after a warm-up, the
 * paddock process's CPU time (/proc/<pid>/stat) and the bytes it writes to the terminal (tmux
 * pipe-pane) are measured over a 15 s window. Baseline in the same run: the same recipe headless
 * (ingest, store and reducers, no TUI). Goal: at most 5% of one core and 10 KB/s. Run for full
 * redraws and for Ink's incremental rendering.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeResults, ROOT } from './common.js';

let SOCKET = `paddock-bench-${process.pid}`;
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
const PADDOCK = join(ROOT, 'dist', 'paddock.js');
const FIREHOSE = join(ROOT, 'bench', 'fixtures', 'latency-firehose.mjs');
const RATE = 10_000;
const SECONDS = 30;
const WARMUP_MS = 8_000;
const WINDOW_MS = 15_000;
const FPS = process.env.PADDOCK_FPS ?? '2 (default)';
const TICK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

const dir = mkdtempSync(join(tmpdir(), 'paddock-bench-tui-'));
const recipe = join(dir, 'firehose.yaml');
writeFileSync(recipe, `version: 1\nname: firehose\nstages:\n  package:\n    - { id: stream, run: [${JSON.stringify(process.execPath)}, ${JSON.stringify(FIREHOSE)}, "${SECONDS}", "${RATE}"] }\n`);

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime
}

async function paddockPid(marker: string): Promise<number> {
  for (let i = 0; i < 100; i++) {
    try {
      const out = execFileSync('pgrep', ['-f', `paddock.js run ${recipe} ${marker}`], { encoding: 'utf8' }).trim().split('\n').map(Number);
      // The node process itself (not the shell that started it): the one whose command starts with node.
      for (const pid of out) if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith(process.execPath)) return pid;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('paddock did not start');
}

async function measure(mode: 'tui' | 'headless', incremental: boolean) {
  SOCKET = `paddock-bench-${process.pid}-${mode}-${incremental}`; // a tmux server of its own for each measurement
  const home = join(dir, `home-${mode}-${incremental}`);
  const out = join(dir, `out-${mode}-${incremental}.bin`);
  writeFileSync(out, '');
  const marker = mode === 'tui' ? '--gate-policy=fail' : '--headless';
  const env = `env -u CI TERM=xterm-256color LANG=C.UTF-8 PADDOCK_HOME=${home} PADDOCK_INCREMENTAL=${incremental ? 1 : 0}${process.env.PADDOCK_FPS ? ` PADDOCK_FPS=${process.env.PADDOCK_FPS}` : ''}`;
  const cmd = mode === 'tui' ? `${env} ${process.execPath} ${PADDOCK} run ${recipe} ${marker}` : `${env} ${process.execPath} ${PADDOCK} run ${recipe} ${marker} > /dev/null`;
  tmux('new-session', '-d', '-s', 'b', '-x', '80', '-y', '24', `${cmd}; sleep 600`);
  if (mode === 'tui') tmux('pipe-pane', '-o', '-t', 'b', `cat >> ${out}`);
  const pid = await paddockPid(marker);
  if (mode === 'tui') {
    await new Promise((r) => setTimeout(r, 1500));
    tmux('send-keys', '-t', 'b', '3'); // the latency screen: the part that changes with every sample
  }
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const c0 = cpuTicks(pid);
  const b0 = statSync(out).size;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, WINDOW_MS));
  const c1 = cpuTicks(pid);
  const b1 = statSync(out).size;
  const secs = (performance.now() - t0) / 1000;
  const screen = tmux('capture-pane', '-p', '-t', 'b');
  tmux('kill-server');
  return { cpuPercentOfOneCore: ((c1 - c0) / TICK / secs) * 100, bytesPerSecond: (b1 - b0) / secs, screen };
}

try {
  const headless = await measure('headless', false);
  const full = await measure('tui', false);
  const incremental = await measure('tui', true);
  const ok = (r: { cpuPercentOfOneCore: number; bytesPerSecond: number }) => (r.cpuPercentOfOneCore <= 5 && r.bytesPerSecond <= 10_240 ? 'met' : 'NOT met');
  console.log(`${RATE} latency samples/s for ${SECONDS} s; measured over ${WINDOW_MS / 1000} s after ${WARMUP_MS / 1000} s, paddock's own process:`);
  console.log(`  headless (baseline: ingest, store, reducers): ${headless.cpuPercentOfOneCore.toFixed(1)}% of one core`);
  console.log(`  TUI, full redraws (${FPS} fps cap):         ${full.cpuPercentOfOneCore.toFixed(1)}% of one core, ${(full.bytesPerSecond / 1024).toFixed(2)} KB/s to the terminal; goal: ${ok(full)}`);
  console.log(`  TUI, incremental rendering (${FPS} fps cap): ${incremental.cpuPercentOfOneCore.toFixed(1)}% of one core, ${(incremental.bytesPerSecond / 1024).toFixed(2)} KB/s to the terminal; goal: ${ok(incremental)}`);
  console.log(`  TUI over headless: x${(full.cpuPercentOfOneCore / Math.max(0.01, headless.cpuPercentOfOneCore)).toFixed(2)} (full), x${(incremental.cpuPercentOfOneCore / Math.max(0.01, headless.cpuPercentOfOneCore)).toFixed(2)} (incremental)`);
  if (!/LATENCY candidate\/cpu-fp32/.test(full.screen)) console.log(`warning: the latency screen was not on: ${full.screen}`);
  console.log(`figures: ${writeResults('tui', { rate: RATE, fps: FPS, windowSeconds: WINDOW_MS / 1000, headless, full: { ...full, screen: undefined }, incremental: { ...incremental, screen: undefined } })}`);
} finally {
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
}
