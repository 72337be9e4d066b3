/**
 * Post-promotion hooks (issue 20, item 8), run once `production` moved, each reporting
 * { hook, status: ok | failed | skipped, detail } and none stopping the others:
 *
 * - webhooks: a JSON payload POSTed with an HMAC-SHA256 signature, as MLflow's model registry
 *   webhooks send theirs (mlflow/webhooks/delivery.py, constants.py; https://mlflow.org/docs/latest/ml/webhooks):
 *   headers X-MLflow-Delivery-Id (a UUID), X-MLflow-Timestamp (Unix seconds) and
 *   X-MLflow-Signature = "v1," + base64(HMAC-SHA256(secret, "<delivery_id>.<timestamp>.<payload>")),
 *   the Standard Webhooks scheme MLflow follows; the envelope { entity, action, timestamp, data }
 *   is MLflow's too. So a receiver written for MLflow verifies ours unchanged. Retries as
 *   MLflow's urllib3 Retry does: on a connection error, a timeout or 429/500/502/503/504, with
 *   exponential backoff (capped; Retry-After honoured); any other non-2xx fails at once, its
 *   status recorded. A retry resends the same bytes, id and signature (the receiver can dedupe
 *   on the id). The secret comes from the environment variable the recipe names and never
 *   appears in an outcome or a log line.
 * - data mining: a request seeded with the canary's error clusters (slice and conditions,
 *   counts, example frame ids), a JSON file in the recipe's requests directory.
 * - schedule: the next weekly evaluation, as a systemd .timer + .service pair and a cron line,
 *   written (not installed). The OnCalendar expression is parsed here, in the subset that also
 *   has a cron form, and checked with `systemd-analyze calendar` where that program exists
 *   (it must agree with our reading, or nothing is written); the units are then checked with
 *   `systemd-analyze verify`.
 * - retention: heavy intermediate artifacts archived or deleted per policy (./retention.ts).
 */
import { accessSync, constants as fsConstants, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { execa } from 'execa';
import { canonicalJson } from '../files/canonical-json.js';
import { writeAtomic } from '../files/atomic.js';
import { InputError, isInputError } from '../files/input-error.js';
import {
  DATA_MINING_REQUEST_FORMAT,
  DataMiningRequest,
  type DataMiningConfig,
  type DeliveryAttempt,
  type ErrorCluster,
  type HookEvent,
  type HookOutcome,
  type PostPromotionHooks,
  type RetentionConfig,
  type ScheduleConfig,
  type WebhookConfig,
} from '../schema/hooks.js';
import { applyRetention, planRetention } from './retention.js';

/** MLflow's header names and signature version (mlflow/webhooks/constants.py). */
export const SIGNATURE_HEADER = 'X-MLflow-Signature';
export const TIMESTAMP_HEADER = 'X-MLflow-Timestamp';
export const DELIVERY_ID_HEADER = 'X-MLflow-Delivery-Id';
const SIGNATURE_VERSION = 'v1';
/** Statuses worth a retry: MLflow's status_forcelist (mlflow/webhooks/delivery.py). */
const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);

/** What was promoted (or rolled back), as the hooks see it. */
export interface PromotionEvent {
  event: HookEvent;
  model: string;
  version: string;
  /** The production version before (now `rollback`), if any. */
  previous: string | null;
  promotionId: string;
  actor: string;
  /** ms since the epoch. */
  at: number;
  releaseNotes?: { uri: string; sha256: string };
  canary?: { decision: string; step?: string | number | null; clusters: readonly ErrorCluster[] };
}

export interface HookContext {
  /** Relative paths in the hooks config are taken from here (the recipe's directory). */
  baseDir: string;
  env?: NodeJS.ProcessEnv;
  /** Clock for delivery timestamps and next-run times (ms). */
  now?: () => number;
}

const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const compactStamp = (ms: number) => isoSeconds(ms).replace(/[-:]/g, '');

// ---------------------------------------------------------------------------------------------
// Webhooks

/** MLflow's signature: "v1," + base64 HMAC-SHA256 over "<delivery_id>.<timestamp>.<payload>" with the secret as the key (utf-8). */
export function signWebhook(secret: string, deliveryId: string, timestamp: string, payload: string): string {
  const mac = createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${deliveryId}.${timestamp}.${payload}`, 'utf8').digest('base64');
  return `${SIGNATURE_VERSION},${mac}`;
}

function header(headers: Record<string, string | string[] | undefined> | Headers, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const h = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(h).find((k) => k.toLowerCase() === name.toLowerCase());
  const v = key === undefined ? undefined : h[key];
  return Array.isArray(v) ? v[0] : v;
}

export type WebhookVerification = { ok: true; deliveryId: string; timestamp: number } | { ok: false; reason: string };

/**
 * For a receiver: checks a delivery's signature against the raw body (the bytes as received,
 * before any JSON parsing) and that its timestamp is within `toleranceS` of `now` (replay
 * protection; 300 s as in MLflow's documented receiver). Space-separated signatures are each
 * tried (Standard Webhooks' form while a secret is rotated). Compared in constant time.
 */
export function verifyWebhookSignature(o: { secret: string; body: string | Uint8Array; headers: Record<string, string | string[] | undefined> | Headers; now?: number; toleranceS?: number }): WebhookVerification {
  const id = header(o.headers, DELIVERY_ID_HEADER);
  const ts = header(o.headers, TIMESTAMP_HEADER);
  const sig = header(o.headers, SIGNATURE_HEADER);
  if (!id || !ts || !sig) return { ok: false, reason: `missing ${[!id && DELIVERY_ID_HEADER, !ts && TIMESTAMP_HEADER, !sig && SIGNATURE_HEADER].filter(Boolean).join(', ')}` };
  if (!/^\d+$/.test(ts)) return { ok: false, reason: `${TIMESTAMP_HEADER} "${ts}" is not Unix seconds` };
  const age = Math.floor((o.now ?? Date.now()) / 1000) - Number(ts);
  const tolerance = o.toleranceS ?? 300;
  if (Math.abs(age) > tolerance) return { ok: false, reason: `timestamp ${ts} is ${age} s from now, outside ±${tolerance} s` };
  const body = typeof o.body === 'string' ? o.body : Buffer.from(o.body).toString('utf8');
  const want = Buffer.from(signWebhook(o.secret, id, ts, body).slice(SIGNATURE_VERSION.length + 1), 'base64');
  for (const s of sig.split(' ')) {
    const [version, b64] = s.split(',', 2);
    if (version !== SIGNATURE_VERSION || !b64) continue;
    const got = Buffer.from(b64, 'base64');
    if (got.length === want.length && timingSafeEqual(got, want)) return { ok: true, deliveryId: id, timestamp: Number(ts) };
  }
  return { ok: false, reason: 'signature does not match' };
}

/** The JSON body: MLflow's envelope { entity, action, timestamp, data }, keys sorted so the bytes depend only on the event. */
export function webhookPayload(ev: PromotionEvent): string {
  return canonicalJson({
    entity: 'model_version',
    action: ev.event === 'model_version.promoted' ? 'promoted' : 'rolled_back',
    timestamp: new Date(ev.at).toISOString(),
    data: {
      name: ev.model,
      version: ev.version,
      alias: 'production',
      previous_version: ev.previous,
      promotion_id: ev.promotionId,
      actor: ev.actor,
      release_notes: ev.releaseNotes ?? null,
      canary: ev.canary ? { decision: ev.canary.decision, step: ev.canary.step ?? null } : null,
    },
  });
}

/** Milliseconds a Retry-After header asks for (delta seconds or an HTTP date), if it parses. */
function retryAfterMs(v: string | null, now: number): number | undefined {
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends one webhook with its retries; never throws: the outcome says what happened, attempt by attempt. */
export async function deliverWebhook(cfg: WebhookConfig, payload: string, ctx: Pick<HookContext, 'env' | 'now'> = {}): Promise<HookOutcome> {
  const hook = `webhook:${cfg.name}`;
  const env = ctx.env ?? process.env;
  const now = ctx.now ?? Date.now;
  let secret: string | undefined;
  if (cfg.secret_env) {
    secret = env[cfg.secret_env];
    if (!secret) return { hook, status: 'failed', detail: `the secret's environment variable ${cfg.secret_env} is not set; not sent unsigned` };
  }
  const deliveryId = randomUUID();
  const timestamp = String(Math.floor(now() / 1000));
  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'User-Agent': 'paddock-webhooks', [DELIVERY_ID_HEADER]: deliveryId, [TIMESTAMP_HEADER]: timestamp };
  if (secret) headers[SIGNATURE_HEADER] = signWebhook(secret, deliveryId, timestamp, payload);
  const attempts: DeliveryAttempt[] = [];
  const url = new URL(cfg.url);
  // The URL without credentials or query, for the detail (a token in a query string is a secret too).
  const where = `${url.protocol}//${url.host}${url.pathname}`;
  for (let n = 1; ; n++) {
    const t0 = performance.now();
    let wait: number | undefined;
    try {
      const res = await fetch(cfg.url, { method: 'POST', body: payload, headers, redirect: 'manual', signal: AbortSignal.timeout(cfg.timeout_ms) });
      const text = await res.text();
      const ms = Math.round(performance.now() - t0);
      attempts.push({ attempt: n, status: res.status, ms });
      if (res.status >= 200 && res.status < 300) {
        return { hook, status: 'ok', detail: `POST ${where}: ${res.status} after ${n} attempt${n > 1 ? 's' : ''}${secret ? ', signed' : ', unsigned (no secret_env)'}`, delivery_id: deliveryId, attempts };
      }
      const retryable = RETRY_STATUSES.has(res.status);
      wait = retryAfterMs(res.headers.get('retry-after'), Date.now());
      if (!retryable || n > cfg.max_retries) {
        const said = text.trim().slice(0, 200).replace(/\s+/g, ' ');
        return { hook, status: 'failed', detail: `POST ${where}: ${res.status}${said ? ` (${said})` : ''} after ${n} attempt${n > 1 ? 's' : ''}${retryable ? '' : '; not retried (not a retryable status)'}`, delivery_id: deliveryId, attempts };
      }
    } catch (err) {
      const ms = Math.round(performance.now() - t0);
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const error = e.name === 'TimeoutError' || e.name === 'AbortError' ? `timed out after ${cfg.timeout_ms} ms` : `${e.cause?.code ?? e.name}: ${e.cause?.message ?? e.message}`;
      attempts.push({ attempt: n, error, ms });
      if (n > cfg.max_retries) return { hook, status: 'failed', detail: `POST ${where}: ${error} (attempt ${n} of ${cfg.max_retries + 1}, the last)`, delivery_id: deliveryId, attempts };
    }
    await sleep(Math.min(cfg.backoff_max_ms, wait ?? cfg.backoff_ms * 2 ** (n - 1)));
  }
}

// ---------------------------------------------------------------------------------------------
// Data-mining request

/** The request for one promotion (pure): clusters ranked by count, the largest `max_clusters` listed with their example frames. */
export function dataMiningRequest(cfg: Pick<DataMiningConfig, 'max_clusters' | 'examples_per_cluster' | 'min_count'>, ev: PromotionEvent): DataMiningRequest {
  const all = [...(ev.canary?.clusters ?? [])]
    .filter((c) => c.count >= cfg.min_count)
    .sort((a, b) => b.count - a.count || (a.slice < b.slice ? -1 : a.slice > b.slice ? 1 : 0) || (canonicalJson(a.conditions) < canonicalJson(b.conditions) ? -1 : 1));
  const errors = all.reduce((s, c) => s + c.count, 0);
  const listed = all.slice(0, cfg.max_clusters);
  return DataMiningRequest.parse({
    format: DATA_MINING_REQUEST_FORMAT,
    id: `${ev.model}-${ev.version}-${compactStamp(ev.at)}`,
    model: ev.model,
    version: ev.version,
    promotion_id: ev.promotionId,
    created_at: isoSeconds(ev.at),
    source: 'canary',
    canary: { decision: ev.canary?.decision ?? 'none', step: ev.canary?.step ?? null },
    clusters: listed.map((c, i) => ({
      rank: i + 1,
      slice: c.slice,
      conditions: c.conditions ?? {},
      ...(c.kind ? { kind: c.kind } : {}),
      count: c.count,
      share: errors ? c.count / errors : 0,
      example_frames: (c.frames ?? []).slice(0, cfg.examples_per_cluster),
    })),
    totals: { errors, clusters: all.length, clusters_left_out: all.length - listed.length },
  });
}

/** Writes the data-mining request into the requests directory; skipped when the canary found no error cluster. */
export function writeDataMiningRequest(cfg: DataMiningConfig, ev: PromotionEvent, ctx: Pick<HookContext, 'baseDir'>): HookOutcome {
  const req = dataMiningRequest(cfg, ev);
  if (req.clusters.length === 0) return { hook: 'data-mining', status: 'skipped', detail: ev.canary ? `the canary found no error cluster with at least ${cfg.min_count} error(s)` : 'no canary analysis for this promotion' };
  const file = join(resolve(ctx.baseDir, cfg.requests_dir), `${req.id.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
  writeAtomic(file, `${JSON.stringify(req, null, 1)}\n`);
  const top = req.clusters[0];
  return {
    hook: 'data-mining',
    status: 'ok',
    detail: `${req.clusters.length} cluster(s), ${req.totals.errors} error(s)${req.totals.clusters_left_out ? ` (${req.totals.clusters_left_out} smaller cluster(s) counted, not listed)` : ''}; largest: ${top.slice} (${top.count})`,
    files: [file],
  };
}

// ---------------------------------------------------------------------------------------------
// Schedule: OnCalendar (the subset with a cron form), timer, service, cron line

const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
const FULL = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

/** A calendar event of the subset: on these weekdays (0 = Monday, none = every day), at this time. */
export interface CalendarSpec {
  weekdays: number[];
  hour: number;
  minute: number;
  /** systemd's normalized form of it (as `systemd-analyze calendar` prints it). */
  normalized: string;
  /** The five time fields of a crontab line (crontab(5)): minute hour day-of-month month day-of-week. */
  cron: string;
}

function dayIndex(tok: string, expr: string): number {
  const t = tok.toLowerCase();
  const i = FULL.findIndex((f) => f === t || f.slice(0, 3) === t);
  if (i < 0) throw new InputError(`on_calendar "${expr}": "${tok}" is not a weekday (Mon..Sun)`);
  return i;
}

/** Runs of consecutive numbers: [[0,2],[5,5]] for 0,1,2,5. */
function runs(xs: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const x of xs) {
    const last = out[out.length - 1];
    if (last && x === last[1] + 1) last[1] = x;
    else out.push([x, x]);
  }
  return out;
}

/**
 * Parses the OnCalendar subset paddock accepts (systemd.time(7), "Calendar Events"): `weekly`,
 * `daily`, or `[WEEKDAYS] [*-*-*] HH:MM[:SS]` where WEEKDAYS is a comma list of days and ranges
 * (Mon..Fri), any case, abbreviated or full, and seconds are 0 (cron counts minutes). Anything
 * else systemd would accept (dates, repetitions, time zones) is refused here: it has no one-line
 * cron form.
 */
export function parseOnCalendar(expr: string): CalendarSpec {
  const e = expr.trim();
  const shorthand: Record<string, string> = { weekly: 'Mon *-*-* 00:00:00', daily: '*-*-* 00:00:00' };
  const m = /^(?:([A-Za-z]+(?:\.\.[A-Za-z]+)?(?:,[A-Za-z]+(?:\.\.[A-Za-z]+)?)*)\s+)?(?:\*-\*-\*\s+)?(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?$/.exec(shorthand[e.toLowerCase()] ?? e);
  if (!m) throw new InputError(`on_calendar "${expr}": expected "[weekdays] *-*-* HH:MM[:SS]" (e.g. "Mon *-*-* 03:00:00"), "weekly" or "daily"; other systemd calendar forms have no cron line`);
  const [, dayList, hh, mm, ss] = m;
  const hour = Number(hh);
  const minute = Number(mm);
  if (hour > 23 || minute > 59) throw new InputError(`on_calendar "${expr}": ${hh}:${mm} is not a time of day`);
  if (ss !== undefined && Number(ss) !== 0) throw new InputError(`on_calendar "${expr}": seconds must be 00 (a cron line counts minutes)`);
  const set = new Set<number>();
  for (const part of dayList ? dayList.split(',') : []) {
    const [a, b] = part.split('..');
    const from = dayIndex(a, expr);
    const to = b === undefined ? from : dayIndex(b, expr);
    if (to < from) throw new InputError(`on_calendar "${expr}": "${part}" runs backwards (weeks start on Monday; write e.g. "Fri..Sun,Mon")`);
    for (let d = from; d <= to; d++) set.add(d);
  }
  const weekdays = set.size === 7 ? [] : [...set].sort((x, y) => x - y);
  // systemd prints three or more consecutive days as a range, fewer as a list (seen in `systemd-analyze calendar`: "Mon..Wed", "Mon,Tue,Sat").
  const days = runs(weekdays)
    .map(([a, b]) => (b - a >= 2 ? `${DAYS[a]}..${DAYS[b]}` : b > a ? `${DAYS[a]},${DAYS[b]}` : DAYS[a]))
    .join(',');
  const two = (n: number) => String(n).padStart(2, '0');
  const normalized = `${days ? `${days} ` : ''}*-*-* ${two(hour)}:${two(minute)}:00`;
  // cron's day of week: 0 = Sunday ... 6 = Saturday.
  const cronDays = weekdays.map((d) => (d + 1) % 7).sort((x, y) => x - y);
  const dow = cronDays.length ? runs(cronDays).map(([a, b]) => (a === b ? String(a) : `${a}-${b}`)).join(',') : '*';
  return { weekdays, hour, minute, normalized, cron: `${minute} ${hour} * * ${dow}` };
}

/** The first time strictly after `from` (ms) the event elapses, in UTC (systemd-analyze's "Next elapse" under TZ=UTC). */
export function nextElapse(spec: CalendarSpec, from: number): number {
  const d = new Date(from);
  for (let i = 0; i <= 7; i++) {
    const t = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + i, spec.hour, spec.minute, 0);
    const weekday = (new Date(t).getUTCDay() + 6) % 7;
    if (t > from && (spec.weekdays.length === 0 || spec.weekdays.includes(weekday))) return t;
  }
  throw new Error('unreachable: every weekly event elapses within 8 days');
}

/** The absolute path of `name` on PATH, if there is one. */
export function findProgram(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, fsConstants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface CalendarCheck {
  spec: CalendarSpec;
  /** Next run (ISO, UTC). */
  next: string;
  /** Who confirmed the expression: systemd-analyze when it exists on this machine, else only paddock's own parser. */
  checkedBy: 'systemd-analyze' | 'paddock parser';
}

/**
 * Parses the expression here, then (where `systemd-analyze` exists) has systemd parse it too:
 * systemd must accept it and normalize it to the same form, else an InputError says how the
 * two readings differ. TZ=UTC so its "Next elapse" is comparable with ours.
 */
export async function checkOnCalendar(expr: string, now: number, env: NodeJS.ProcessEnv = process.env): Promise<CalendarCheck> {
  const spec = parseOnCalendar(expr);
  const ours = nextElapse(spec, now);
  const bin = findProgram('systemd-analyze', env);
  if (!bin) return { spec, next: isoSeconds(ours), checkedBy: 'paddock parser' };
  const base = new Date(now).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC');
  const r = await execa(bin, ['calendar', `--base-time=${base}`, '--iterations=1', '--', expr], { env: { ...env, TZ: 'UTC', SYSTEMD_COLORS: '0', LC_ALL: 'C' }, reject: false });
  if (r.exitCode !== 0) throw new InputError(`on_calendar "${expr}": systemd-analyze calendar refused it: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
  const normalized = /Normalized form:\s*(.+)/.exec(r.stdout)?.[1]?.trim();
  const nextLine = /Next elapse:\s*\w+ (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) UTC/.exec(r.stdout)?.[1];
  if (normalized !== spec.normalized) throw new InputError(`on_calendar "${expr}": paddock reads it as "${spec.normalized}", systemd as "${normalized}"; not written`);
  if (nextLine && Date.parse(`${nextLine.replace(' ', 'T')}Z`) !== ours) throw new InputError(`on_calendar "${expr}": next run ${isoSeconds(ours)} here, ${nextLine} UTC by systemd; not written`);
  return { spec, next: isoSeconds(ours), checkedBy: 'systemd-analyze' };
}

/** One argument of an ExecStart= line (systemd.service(5) "Command lines"): quoted when needed; "%" (specifiers) and "$" (variables) doubled. */
function systemdArg(a: string): string {
  const s = /^[A-Za-z0-9_@+=:,./-]+$/.test(a) ? a : `"${a.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  return s.replace(/%/g, '%%').replace(/\$/g, '$$$$');
}

/** One argument of a cron command, for sh: single-quoted when needed; "%" escaped, since cron turns a bare one into a newline (crontab(5)). */
function cronArg(a: string): string {
  const s = /^[A-Za-z0-9_@+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
  return s.replace(/%/g, '\\%');
}

const specifiers = (s: string) => s.replace(/%/g, '%%');

/** The three files' text (pure): the .timer, the .service and the crontab line, for this promotion. */
export function scheduleFiles(cfg: ScheduleConfig, spec: CalendarSpec, ev: PromotionEvent, baseDir: string): { timer: string; service: string; cron: string } {
  const [prog, ...args] = cfg.command;
  // ExecStart's program: absolute, or a bare name systemd looks up on its own search path.
  const program = prog.includes('/') && !isAbsolute(prog) ? resolve(baseDir, prog) : prog;
  const workdir = resolve(baseDir, cfg.working_directory ?? '.');
  const what = `weekly evaluation of ${ev.model} (production ${ev.version}, promotion ${ev.promotionId})`;
  const timer = [
    `# Written by paddock after ${ev.model} ${ev.version} was promoted (${isoSeconds(ev.at)}).`,
    `# Install: cp ${cfg.unit}.timer ${cfg.unit}.service ~/.config/systemd/user/ && systemctl --user daemon-reload && systemctl --user enable --now ${cfg.unit}.timer`,
    '[Unit]',
    `Description=paddock: ${specifiers(what)}`,
    '',
    '[Timer]',
    `OnCalendar=${spec.normalized}`,
    `Persistent=${cfg.persistent ? 'true' : 'false'}`,
    `Unit=${cfg.unit}.service`,
    '',
    '[Install]',
    'WantedBy=timers.target',
    '',
  ].join('\n');
  const service = [
    `# Written by paddock after ${ev.model} ${ev.version} was promoted (${isoSeconds(ev.at)}); started by ${cfg.unit}.timer.`,
    '[Unit]',
    `Description=paddock: ${specifiers(what)}`,
    '',
    '[Service]',
    'Type=oneshot',
    `WorkingDirectory=${specifiers(workdir)}`,
    `ExecStart=${[program, ...args].map(systemdArg).join(' ')}`,
    '',
  ].join('\n');
  const cron = [
    `# paddock: ${what}; ${spec.normalized} as a cron line, in the cron daemon's time zone.`,
    `# Install: (crontab -l 2>/dev/null; cat ${cfg.unit}.cron) | crontab -`,
    `${spec.cron} cd ${cronArg(workdir)} && ${[program, ...args].map(cronArg).join(' ')}`,
    '',
  ].join('\n');
  return { timer, service, cron };
}

/** Writes <unit>.timer, <unit>.service and <unit>.cron into the schedule directory, after checking the calendar expression (and the units with systemd-analyze verify, where it exists). */
export async function writeSchedule(cfg: ScheduleConfig, ev: PromotionEvent, ctx: HookContext): Promise<HookOutcome> {
  const env = ctx.env ?? process.env;
  const check = await checkOnCalendar(cfg.on_calendar, (ctx.now ?? Date.now)(), env);
  const f = scheduleFiles(cfg, check.spec, ev, ctx.baseDir);
  const dir = resolve(ctx.baseDir, cfg.dir);
  const files = { timer: join(dir, `${cfg.unit}.timer`), service: join(dir, `${cfg.unit}.service`), cron: join(dir, `${cfg.unit}.cron`) };
  writeAtomic(files.timer, f.timer);
  writeAtomic(files.service, f.service);
  writeAtomic(files.cron, f.cron);
  let verified = '';
  const bin = findProgram('systemd-analyze', env);
  if (bin) {
    // systemd-analyze verify also checks that ExecStart's program exists here. A bare name that is
    // not installed on this machine (the units are for the machine that runs the evaluation) is
    // checked with /bin/true standing in for it, in copies of the units, and the detail says so.
    const prog = cfg.command[0];
    const standIn = !prog.includes('/') && !findProgram(prog, env) && existsSync('/bin/true');
    let paths = [files.timer, files.service];
    let tmp: string | undefined;
    if (standIn) {
      tmp = mkdtempSync(join(tmpdir(), 'paddock-schedule-'));
      paths = [join(tmp, `${cfg.unit}.timer`), join(tmp, `${cfg.unit}.service`)];
      writeFileSync(paths[0], f.timer);
      writeFileSync(paths[1], f.service.replace(/^ExecStart=\S+/m, 'ExecStart=/bin/true'));
    }
    try {
      const r = await execa(bin, ['verify', '--man=no', ...paths], { env: { ...env, SYSTEMD_COLORS: '0', LC_ALL: 'C' }, reject: false });
      if (r.exitCode !== 0) return { hook: 'schedule', status: 'failed', detail: `systemd-analyze verify refused the units: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' / ')}`, files: Object.values(files) };
    } finally {
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    }
    verified = `; units checked with systemd-analyze verify${standIn ? ` (${prog} is not on this machine's PATH: checked with /bin/true in its place)` : ''}`;
  }
  return {
    hook: 'schedule',
    status: 'ok',
    detail: `OnCalendar=${check.spec.normalized} (checked by ${check.checkedBy}${check.checkedBy === 'paddock parser' ? ': systemd-analyze is not on this machine' : ''}), cron "${check.spec.cron}"; next run ${check.next}${verified}`,
    files: Object.values(files),
  };
}

// ---------------------------------------------------------------------------------------------
// Retention, and all of them

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** Plans and applies the retention rules (or only plans, with dry_run). */
export async function runRetention(cfg: RetentionConfig, ctx: Pick<HookContext, 'baseDir' | 'now'>): Promise<HookOutcome> {
  const root = resolve(ctx.baseDir, cfg.root);
  if (!existsSync(root)) return { hook: 'retention', status: 'skipped', detail: `${root} does not exist` };
  const plan = planRetention(root, cfg.rules, (ctx.now ?? Date.now)(), { archiveDir: cfg.archive_dir });
  if (plan.actions.length === 0) return { hook: 'retention', status: 'ok', detail: `nothing to do under ${plan.root} (${plan.kept.length} kept)` };
  const r = await applyRetention(plan, { dryRun: cfg.dry_run });
  const { archive: a, delete: d } = plan.totals;
  if (r.dryRun) return { hook: 'retention', status: 'ok', detail: `dry run: would archive ${a.items} (${formatBytes(a.bytes)}) and delete ${d.items} (${formatBytes(d.bytes)}) under ${plan.root}; ${plan.kept.length} kept` };
  const skipped = r.items.filter((i) => i.status === 'skipped').length;
  return {
    hook: 'retention',
    status: 'ok',
    detail: `archived ${r.items.filter((i) => i.status === 'archived').length}, deleted ${r.items.filter((i) => i.status === 'deleted').length}, freed ${formatBytes(r.freedBytes)} under ${plan.root}${r.archive ? `; archive ${r.archive.path} (${r.archive.entries} entries read back and matched)` : ''}${skipped ? `; ${skipped} skipped (changed since the plan)` : ''}`,
    files: r.archive ? [r.archive.path, `${r.archive.path}.json`] : [],
  };
}

async function guarded(hook: string, run: () => HookOutcome | Promise<HookOutcome>): Promise<HookOutcome> {
  try {
    return await run();
  } catch (err) {
    const e = err as Error;
    return { hook, status: 'failed', detail: isInputError(e) ? e.message : `${e.name}: ${e.message}` };
  }
}

/** Runs every configured hook for the event, in order (webhooks, data mining, schedule, retention); one failing does not stop the others. */
export async function runPostPromotionHooks(cfg: PostPromotionHooks, ev: PromotionEvent, ctx: HookContext): Promise<HookOutcome[]> {
  const out: HookOutcome[] = [];
  const payload = webhookPayload(ev);
  for (const w of cfg.webhooks) {
    if (!w.events.includes(ev.event)) out.push({ hook: `webhook:${w.name}`, status: 'skipped', detail: `listens to ${w.events.join(', ')}, not ${ev.event}` });
    else out.push(await guarded(`webhook:${w.name}`, () => deliverWebhook(w, payload, ctx)));
  }
  const promoted = ev.event === 'model_version.promoted';
  const notPromoted = (hook: string): HookOutcome => ({ hook, status: 'skipped', detail: `runs after a promotion, not on ${ev.event}` });
  out.push(!cfg.data_mining ? { hook: 'data-mining', status: 'skipped', detail: 'not configured' } : !promoted ? notPromoted('data-mining') : await guarded('data-mining', () => writeDataMiningRequest(cfg.data_mining!, ev, ctx)));
  out.push(!cfg.schedule ? { hook: 'schedule', status: 'skipped', detail: 'not configured' } : !promoted ? notPromoted('schedule') : await guarded('schedule', () => writeSchedule(cfg.schedule!, ev, ctx)));
  out.push(!cfg.retention ? { hook: 'retention', status: 'skipped', detail: 'not configured' } : await guarded('retention', () => runRetention(cfg.retention!, ctx)));
  return out;
}
