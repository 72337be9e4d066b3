/**
 * Release notes for one promotion, in Markdown: what changed against the previous production
 * (headline metrics, the slice table with the worst regressions first, latency per target,
 * replay and simulation figures), the links and digests a reader checks the release with, who
 * approved it under which role, the governance checks and the canary's decision. The text is a
 * pure function of its input (no clock, no locale, fixed number formats), so the same promotion
 * gives the same bytes; `publishReleaseNotes` puts it beside the pack on S3 and reads it back.
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { s3Client } from '../pack/s3-publish.js';
import { InputError } from '../files/input-error.js';

/** One row of an entry's slice table (a slice's metric, and its delta against the evaluation's baseline when recorded). */
export interface SummarySlice {
  slice: string;
  metric: string;
  value: number;
  delta?: number;
}

export interface SummaryLatency {
  target: string;
  p50_ms: number;
  p95_ms: number;
  p99_ms: number;
}

/**
 * The summary a registry entry records (copied from the evaluate, replay and sim reports). A
 * structural type, so RegistryEntryBody's summary (src/schema/registry.ts) fits it as is.
 */
export interface ReleaseSummary {
  headline: Record<string, number>;
  slices: readonly SummarySlice[];
  latency: readonly SummaryLatency[];
  replay?: Record<string, number>;
  sim?: Record<string, number>;
}

export interface ReleaseApproval {
  role: string;
  identity: string;
  decision: string;
  at: number;
  reason?: string;
  /** How it was signed: ssh, ecdsa or policy. */
  scheme?: string;
}

export interface ReleaseCanary {
  decision: string;
  step?: string | number | null;
  semantics?: string;
  reason?: string;
  /** Each counting semantics' own decision, when the analysis ran both. */
  analyses?: readonly { semantics: string; decision: string; step?: string | number | null; reason?: string }[];
}

export interface ReleaseNotesInput {
  model: string;
  version: string;
  previous?: { version: string; summary: ReleaseSummary };
  current: { summary: ReleaseSummary };
  links: { modelCard?: string; evaluation?: string; simulation?: string; replay?: string; sbom?: string; pack: string };
  digests: { manifest: string; files: readonly { path: string; sha256: string }[] };
  approvals: readonly ReleaseApproval[];
  governance: { ok: boolean; checks: readonly { id: string; status: string; detail: string }[] };
  canary: ReleaseCanary;
  /** When the promotion happened (ms since the epoch). */
  at: number;
  /** Metrics where lower is better (false emergency braking rate, say), besides LOWER_IS_BETTER; every other metric is taken as higher-is-better, as AP is, except NEUTRAL. Latency is always lower-is-better. */
  lowerIsBetter?: readonly string[];
}

/**
 * The replay report's figures where fewer is better (src/schema/replay-report.ts: ID switches,
 * fragmentations, false positives and negatives, mostly-lost tracks, objects never tracked,
 * ghost tracks, track initialisation and gap durations, time to first detection, late frames),
 * and the simulation's (summary.sim, src/registry/entry-from-reports.ts): failed runs, collisions,
 * their rate and per 1000 km, VRU near misses, off-road incidents, RMS jerk.
 */
export const LOWER_IS_BETTER: readonly string[] = [
  'IDSW', 'Frag', 'FP', 'FN', 'ML', 'never_tracked', 'ghosts', 'TID_s', 'LGD_s', 'ttfd_mean_s', 'late_frames',
  'collisions', 'failed_runs', 'collision_rate', 'collisions_per_1000km', 'vru_near_misses', 'offroad_incidents', 'jerk_rms',
];
/** Figures that describe the data rather than the model (objects and frames scored, partially tracked, simulated runs): no better or worse. */
export const NEUTRAL: readonly string[] = ['gtIds', 'frames', 'PT', 'runs'];

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.000Z$/, 'Z');

/** A cell: pipes escaped and newlines folded, so a slice named `a|b` cannot break the table (GFM tables: "include a pipe in a cell's content by escaping it"). */
function cell(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function fixed(v: number, digits: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  const s = v.toFixed(digits);
  return /^-0\.?0*$/.test(s) ? s.slice(1) : s;
}

function signed(v: number | undefined, digits: number): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  const s = fixed(v, digits);
  return s.startsWith('-') || /^0\.?0*$/.test(s) ? s : `+${s}`;
}

/** Integers as they are (counts); anything else at `digits` decimals. */
function num(v: number | undefined, digits = 4): string {
  if (v === undefined) return '—';
  return Number.isInteger(v) ? String(v) : fixed(v, digits);
}

function numDelta(d: number | undefined, a: number | undefined, b: number | undefined, digits = 4): string {
  if (d === undefined) return '—';
  return Number.isInteger(a) && Number.isInteger(b) ? signed(d, 0) : signed(d, digits);
}

/** better / worse / same, from the sign of the change and the metric's direction (undefined: a neutral figure, no verdict). */
function verdict(delta: number | undefined, lowerBetter: boolean | undefined): string {
  if (delta === undefined || !Number.isFinite(delta) || lowerBetter === undefined) return '';
  if (Math.abs(delta) < 5e-13) return 'same';
  return delta > 0 !== lowerBetter ? 'better' : 'worse';
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function table(head: readonly string[], align: readonly ('l' | 'r')[], rows: readonly (readonly string[])[]): string[] {
  return [`| ${head.join(' | ')} |`, `|${align.map((a) => (a === 'r' ? '---:' : '---')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

/** A figures section (headline, replay, sim): each metric of either side, the values and the change. */
function figures(cur: Record<string, number> | undefined, prev: Record<string, number> | undefined, prevVersion: string | undefined, version: string, lowerBetter: (m: string) => boolean | undefined): string[] {
  const names = [...new Set([...Object.keys(cur ?? {}), ...Object.keys(prev ?? {})])].sort(byText);
  if (names.length === 0) return ['None recorded.'];
  if (!prevVersion) return table(['metric', version], ['l', 'r'], names.map((m) => [cell(m), num(cur?.[m])]));
  return table(
    ['metric', prevVersion, version, 'delta', 'change'],
    ['l', 'r', 'r', 'r', 'l'],
    names.map((m) => {
      const a = prev?.[m];
      const b = cur?.[m];
      const d = a !== undefined && b !== undefined ? b - a : undefined;
      return [cell(m), num(a), num(b), numDelta(d, a, b), verdict(d, lowerBetter(m))];
    }),
  );
}

/** Renders the release notes (see the module comment); deterministic: the same input gives the same bytes. */
export function releaseNotes(n: ReleaseNotesInput): string {
  const lower = new Set([...LOWER_IS_BETTER, ...(n.lowerIsBetter ?? [])]);
  const lowerBetter = (m: string) => (lower.has(m) ? true : NEUTRAL.includes(m) ? undefined : false);
  const prev = n.previous;
  const out: string[] = [];
  out.push(`# ${n.model} ${n.version}: release notes`, '');
  out.push(prev ? `Promoted to production at ${iso(n.at)}, replacing ${prev.version} (now the rollback target).` : `Promoted to production at ${iso(n.at)}: the model's first production version, so there is nothing to compare against.`);
  out.push('');

  out.push('## Headline metrics', '');
  out.push(...figures(n.current.summary.headline, prev?.summary.headline, prev?.version, n.version, lowerBetter), '');

  // Slices: the change against the previous production where it has the same slice and metric;
  // the entry's own delta (against its evaluation's baseline, a paired bootstrap there) beside it.
  out.push('## Slices', '');
  const prevSlice = new Map((prev?.summary.slices ?? []).map((s) => [`${s.slice}\u0000${s.metric}`, s.value]));
  const rows = n.current.summary.slices.map((s) => {
    const before = prevSlice.get(`${s.slice}\u0000${s.metric}`);
    const vsPrev = before !== undefined ? s.value - before : undefined;
    const change = vsPrev ?? s.delta;
    // Worst regression first: the change in the metric's good direction, most negative on top.
    const goodness = change === undefined || !Number.isFinite(change) || lowerBetter(s.metric) === undefined ? Infinity : lowerBetter(s.metric) ? -change : change;
    return { s, before, vsPrev, goodness };
  });
  rows.sort((a, b) => a.goodness - b.goodness || byText(a.s.slice, b.s.slice) || byText(a.s.metric, b.s.metric));
  if (rows.length === 0) out.push('None recorded.');
  else {
    const withBaseline = rows.some((r) => r.s.delta !== undefined);
    const head = prev ? ['slice', 'metric', prev.version, n.version, `delta vs ${prev.version}`] : ['slice', 'metric', n.version];
    const align: ('l' | 'r')[] = prev ? ['l', 'l', 'r', 'r', 'r'] : ['l', 'l', 'r'];
    if (withBaseline) {
      head.push('delta vs eval baseline');
      align.push('r');
    }
    head.push('change');
    align.push('l');
    out.push(prev ? `Worst regressions first (the change against ${prev.version} where it has the slice, else against the evaluation's baseline).` : "Worst regressions first (the change against the evaluation's baseline).", '');
    out.push(
      ...table(
        head,
        align,
        rows.map(({ s, before, vsPrev }) => {
          const r = prev ? [cell(s.slice), cell(s.metric), num(before), num(s.value), signed(vsPrev, 4)] : [cell(s.slice), cell(s.metric), num(s.value)];
          if (withBaseline) r.push(signed(s.delta, 4));
          r.push(verdict(vsPrev ?? s.delta, lowerBetter(s.metric)));
          return r;
        }),
      ),
    );
  }
  out.push('');

  out.push('## Latency per target', '');
  const prevLat = new Map((prev?.summary.latency ?? []).map((l) => [l.target, l]));
  const lat = [...n.current.summary.latency].sort((a, b) => byText(a.target, b.target));
  if (lat.length === 0) out.push('None recorded.');
  else {
    const ms = (v: number, before: number | undefined) => (before === undefined ? fixed(v, 2) : `${fixed(v, 2)} (${signed(v - before, 2)})`);
    out.push(prev ? `Milliseconds; in brackets the change against ${prev.version}.` : 'Milliseconds.', '');
    out.push(
      ...table(
        prev ? ['target', 'p50', 'p95', 'p99', 'p95 change'] : ['target', 'p50', 'p95', 'p99'],
        prev ? ['l', 'r', 'r', 'r', 'l'] : ['l', 'r', 'r', 'r'],
        lat.map((l) => {
          const b = prevLat.get(l.target);
          const row = [cell(l.target), ms(l.p50_ms, b?.p50_ms), ms(l.p95_ms, b?.p95_ms), ms(l.p99_ms, b?.p99_ms)];
          if (prev) row.push(b ? verdict(l.p95_ms - b.p95_ms, true) : 'new target');
          return row;
        }),
      ),
    );
    const gone = [...prevLat.keys()].filter((t) => !lat.some((l) => l.target === t)).sort(byText);
    if (gone.length) out.push('', `No longer measured: ${gone.map((t) => `\`${t}\``).join(', ')}.`);
  }
  out.push('');

  out.push('## Replay', '');
  out.push(...figures(n.current.summary.replay, prev?.summary.replay, prev?.version, n.version, lowerBetter), '');
  out.push('## Simulation', '');
  out.push(...figures(n.current.summary.sim, prev?.summary.sim, prev?.version, n.version, lowerBetter), '');

  out.push('## Canary', '');
  const c = n.canary;
  const at = (step: string | number | null | undefined) => (step === undefined || step === null ? '' : ` at step ${step}`);
  out.push(`Decision: **${cell(c.decision)}**${at(c.step)}${c.semantics ? ` (${cell(c.semantics)} semantics)` : ''}${c.reason ? `: ${cell(c.reason)}` : ''}.`);
  if (c.analyses?.length) {
    out.push('');
    out.push(...table(['semantics', 'decision', 'step', 'reason'], ['l', 'l', 'r', 'l'], [...c.analyses].sort((a, b) => byText(a.semantics, b.semantics)).map((a) => [cell(a.semantics), cell(a.decision), a.step === undefined || a.step === null ? '—' : cell(String(a.step)), cell(a.reason ?? '')])));
  }
  out.push('');

  out.push('## Approvals', '');
  const appr = [...n.approvals].sort((a, b) => byText(a.role, b.role) || a.at - b.at || byText(a.identity, b.identity));
  if (appr.length === 0) out.push('None recorded.');
  else out.push(...table(['role', 'who', 'decision', 'when', 'signed', 'reason'], ['l', 'l', 'l', 'l', 'l', 'l'], appr.map((a) => [cell(a.role), cell(a.identity), cell(a.decision), iso(a.at), cell(a.scheme ?? ''), cell(a.reason ?? '')])));
  out.push('');

  out.push('## Governance', '');
  out.push(n.governance.ok ? 'All checks passed or were waived.' : 'Some checks failed.', '');
  if (n.governance.checks.length) out.push(...table(['check', 'status', 'detail'], ['l', 'l', 'l'], n.governance.checks.map((k) => [cell(k.id), cell(k.status), cell(k.detail)])), '');

  out.push('## Links', '');
  const link = (label: string, v: string | undefined) => `- ${label}: ${v ? `<${v}>` : 'not recorded'}`;
  out.push(link('Pack', n.links.pack), link('Model card', n.links.modelCard), link('Evaluation', n.links.evaluation), link('Replay', n.links.replay), link('Simulation', n.links.simulation), link('SBOM', n.links.sbom), '');

  out.push('## Digests', '');
  out.push(`Manifest: \`sha256:${n.digests.manifest}\``, '');
  const files = [...n.digests.files].sort((a, b) => byText(a.path, b.path));
  if (files.length) out.push(...table(['file', 'sha256'], ['l', 'l'], files.map((f) => [`\`${cell(f.path)}\``, `\`${f.sha256}\``])), '');

  return `${out.join('\n').replace(/\n+$/, '')}\n`;
}

export interface ReleaseNotesTarget {
  bucket: string;
  /** The pack's prefix (what publishPack uploaded under). */
  prefix: string;
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export interface PublishedReleaseNotes {
  key: string;
  uri: string;
  sha256: string;
  bytes: number;
}

/** Uploads the notes as <prefix>/<name> (with its SHA-256 as checksum and metadata, as publishPack does) and reads them back; a mismatch throws. */
export async function publishReleaseNotes(o: { s3: ReleaseNotesTarget; text: string; name: string }): Promise<PublishedReleaseNotes> {
  if (!/^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/.test(o.name) || o.name.split('/').some((p) => p === '.' || p === '..')) {
    throw new InputError(`release notes name "${o.name}": expected a relative object name such as release-notes.md (letters, digits, ".", "_", "-", "/"; no "..")`);
  }
  const body = Buffer.from(o.text, 'utf8');
  const sha256 = createHash('sha256').update(body).digest('hex');
  const key = `${o.s3.prefix.replace(/^\/+/, '').replace(/\/?$/, '/')}${o.name}`.replace(/^\//, '');
  const s3 = s3Client(o.s3);
  try {
    await s3.send(
      new PutObjectCommand({
        Bucket: o.s3.bucket,
        Key: key,
        Body: body,
        ContentType: 'text/markdown; charset=utf-8',
        ChecksumSHA256: createHash('sha256').update(body).digest('base64'),
        Metadata: { sha256 },
      }),
    );
    const g = await s3.send(new GetObjectCommand({ Bucket: o.s3.bucket, Key: key }));
    const h = createHash('sha256');
    for await (const chunk of g.Body as AsyncIterable<Uint8Array>) h.update(chunk);
    const got = h.digest('hex');
    if (got !== sha256) throw new Error(`s3://${o.s3.bucket}/${key}: read back with sha256 ${got}, uploaded ${sha256}`);
  } finally {
    s3.destroy();
  }
  return { key, uri: `s3://${o.s3.bucket}/${key}`, sha256, bytes: body.length };
}
