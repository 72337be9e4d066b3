/**
 * Post-promotion hooks: what a recipe's promote stage asks to happen once `production` moved
 * (the `with:` of its hooks step), what a data-mining request file holds, and what each hook
 * reports back. Paths in the config are relative to the recipe's directory.
 *
 *   webhooks:      [{ name: ci, url: https://ci.example.com/hooks/paddock, secret_env: PADDOCK_WEBHOOK_SECRET }]
 *   data_mining:   { requests_dir: ./requests }
 *   schedule:      { dir: ./schedule, on_calendar: "Mon *-*-* 03:00:00", command: [paddock, run, paddock.yaml, --stage, evaluate] }
 *   retention:     { root: ./.paddock, rules: [{ dir: runs, older_than_days: 30, keep_last: 3, action: archive }] }
 *
 * Defaults of the webhook delivery follow MLflow's (mlflow/environment_variables.py:
 * MLFLOW_WEBHOOK_REQUEST_MAX_RETRIES = 3; mlflow/webhooks/delivery.py: backoff factor 1 s,
 * capped at 60 s, retried on 429/500/502/503/504).
 */
import { z } from 'zod';

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name, e.g. PADDOCK_WEBHOOK_SECRET');
const int = () => z.number().int();

/** The registry events a webhook may listen to (MLflow names its events entity.action the same way). */
export const HOOK_EVENTS = ['model_version.promoted', 'model_version.rolled_back'] as const;
export type HookEvent = (typeof HOOK_EVENTS)[number];

export const WebhookConfig = z
  .object({
    /** Names the hook in the outcomes (`webhook:<name>`). */
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'a name: lowercase letters, digits, ".", "_" or "-"'),
    url: z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL' }),
    /** The environment variable holding the HMAC secret (the secret itself is never in the recipe, nor logged). Without it the payload goes unsigned, as MLflow does for a webhook without a secret. */
    secret_env: envName.optional(),
    events: z.array(z.enum(HOOK_EVENTS)).min(1).default(['model_version.promoted']),
    /** Per attempt. */
    timeout_ms: int().positive().max(300_000).default(10_000),
    /** Attempts after the first, on a connection error, a timeout or a retryable status. */
    max_retries: int().min(0).max(10).default(3),
    /** Wait before retry n: backoff_ms * 2^(n-1), at most backoff_max_ms (a Retry-After header, when sent, instead, capped the same). */
    backoff_ms: int().min(0).max(600_000).default(1000),
    backoff_max_ms: int().min(0).max(600_000).default(60_000),
  })
  .strict();
export type WebhookConfig = z.infer<typeof WebhookConfig>;

export const DataMiningConfig = z
  .object({
    requests_dir: z.string().min(1),
    /** The largest clusters first; the rest are counted in the request, not listed. */
    max_clusters: int().positive().max(1000).default(20),
    examples_per_cluster: int().positive().max(1000).default(10),
    /** Clusters with fewer errors are left out (noise). */
    min_count: int().positive().default(1),
  })
  .strict();
export type DataMiningConfig = z.infer<typeof DataMiningConfig>;

export const ScheduleConfig = z
  .object({
    /** Where the .timer, .service and .cron files are written (install them from there). */
    dir: z.string().min(1),
    /** The systemd unit's name, without suffix. */
    unit: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'a unit name: letters, digits, ".", "_" or "-" (systemd.unit(5))')
      .default('paddock-weekly-evaluation'),
    /** systemd.time(7) calendar event, in the subset that also has a cron form: `[weekdays] *-*-* HH:MM[:00]`, or `weekly` / `daily`. */
    on_calendar: z.string().min(1).default('Mon *-*-* 03:00:00'),
    /** What runs: the program and its arguments. */
    command: z.array(z.string().min(1)).min(1),
    working_directory: z.string().min(1).optional(),
    /** systemd runs a missed run at the next boot (systemd.timer(5) Persistent=). */
    persistent: z.boolean().default(true),
  })
  .strict();
export type ScheduleConfig = z.infer<typeof ScheduleConfig>;

export const RetentionRule = z
  .object({
    /** Paths under root matching this glob (`*`, `?`, `**`, `{a,b}`), files or directories ... */
    glob: z.string().min(1).optional(),
    /** ... or each entry directly inside this directory under root (e.g. `runs`: every run directory). */
    dir: z.string().min(1).optional(),
    older_than_days: z.number().nonnegative().optional(),
    /** The newest N of the rule's matches are kept whatever their age. */
    keep_last: int().nonnegative().optional(),
    action: z.enum(['archive', 'delete']),
  })
  .strict()
  .refine((r) => (r.glob === undefined) !== (r.dir === undefined), { message: 'a rule needs exactly one of "glob" or "dir"', path: ['glob'] })
  .refine((r) => r.older_than_days !== undefined || r.keep_last !== undefined, { message: 'a rule needs "older_than_days" or "keep_last" (or both); without either it would take everything', path: ['older_than_days'] });
export type RetentionRule = z.infer<typeof RetentionRule>;

export const RetentionConfig = z
  .object({
    root: z.string().min(1),
    rules: z.array(RetentionRule).min(1),
    dry_run: z.boolean().default(false),
    /** Under root; where archives go (never itself a candidate). */
    archive_dir: z.string().min(1).default('.paddock-archive'),
  })
  .strict();
export type RetentionConfig = z.infer<typeof RetentionConfig>;

export const PostPromotionHooks = z
  .object({
    webhooks: z.array(WebhookConfig).default([]),
    data_mining: DataMiningConfig.optional(),
    schedule: ScheduleConfig.optional(),
    retention: RetentionConfig.optional(),
  })
  .strict();
export type PostPromotionHooks = z.infer<typeof PostPromotionHooks>;

/** One error cluster the canary analysis found: where (slice and conditions), how many, which frames. */
export const ErrorCluster = z
  .object({
    slice: z.string().min(1),
    conditions: z.record(z.string(), z.string()).default({}),
    count: int().nonnegative(),
    frames: z.array(z.union([z.string(), z.number()])).default([]),
    /** What kind of error (missed, false positive, late), when the analysis says. */
    kind: z.string().optional(),
  })
  .strict();
export type ErrorCluster = z.infer<typeof ErrorCluster>;

export const DATA_MINING_REQUEST_FORMAT = 'paddock.data_mining_request/1';

/** A request to mine more data like the canary's errors: the file a data team (or a mining job) picks up. */
export const DataMiningRequest = z
  .object({
    format: z.literal(DATA_MINING_REQUEST_FORMAT),
    id: z.string().min(1),
    model: z.string().min(1),
    version: z.string().min(1),
    promotion_id: z.string().min(1),
    created_at: z.iso.datetime(),
    source: z.literal('canary'),
    canary: z.object({ decision: z.string(), step: z.union([z.string(), z.number()]).nullable() }).strict(),
    clusters: z.array(
      z
        .object({
          rank: int().positive(),
          slice: z.string(),
          conditions: z.record(z.string(), z.string()),
          kind: z.string().optional(),
          count: int().nonnegative(),
          /** This cluster's share of the listed and unlisted errors. */
          share: z.number().min(0).max(1),
          example_frames: z.array(z.union([z.string(), z.number()])),
        })
        .strict(),
    ),
    totals: z.object({ errors: int().nonnegative(), clusters: int().nonnegative(), clusters_left_out: int().nonnegative() }).strict(),
  })
  .strict();
export type DataMiningRequest = z.infer<typeof DataMiningRequest>;

/** One delivery attempt of a webhook: the status it got, or the error (connection, timeout). */
export const DeliveryAttempt = z.object({ attempt: int().positive(), status: int().optional(), error: z.string().optional(), ms: z.number().nonnegative() }).strict();
export type DeliveryAttempt = z.infer<typeof DeliveryAttempt>;

/** What one hook did. */
export const HookOutcome = z
  .object({
    hook: z.string().min(1),
    status: z.enum(['ok', 'failed', 'skipped']),
    detail: z.string(),
    /** Webhooks: the delivery id and every attempt. */
    delivery_id: z.string().optional(),
    attempts: z.array(DeliveryAttempt).optional(),
    /** Files the hook wrote. */
    files: z.array(z.string()).optional(),
  })
  .strict();
export type HookOutcome = z.infer<typeof HookOutcome>;
