/**
 * export_report.json, version 2 (`paddock.export_report/2`): what the package stage made and how,
 * the document the pack's signature covers. Written by the `sign` step, validated before it is
 * signed; read back by `paddock verify` and the promote stage's verify-pack (src/pack/trust.ts),
 * which name the field of any problem:
 *   export_report.json: variants[2].opset: expected integer, got "17"
 * Version 1 (before: no variants, hosts or runtime options, lineage.commit possibly "auto") is
 * still read, for the packs published before; only its `files` are checked, as then.
 * Fields are only ever added within a version; a field whose value is not known is null with a
 * reason beside it, never a guess.
 */
import { z } from 'zod';

export const EXPORT_REPORT_FORMAT = 'paddock.export_report/2';
export const EXPORT_REPORT_FORMAT_V1 = 'paddock.export_report/1';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits');
/** A whole number; a value of another type reads "expected integer" (zod says "number" for both). */
const integer = () => z.int({ error: (iss) => (iss.code === 'invalid_type' ? 'expected integer' : undefined) });
const count = integer().nonnegative();

/** A version that may be absent: null, and then `reason` says why. */
export const Versioned = z
  .object({ version: z.string().min(1).nullable(), reason: z.string().min(1).optional(), source: z.string().optional() })
  .strict()
  .refine((v) => v.version !== null || v.reason !== undefined, { message: 'a null version needs a reason', path: ['reason'] });

/** A machine that ran at least one step (the step reports' `host`, a trtexec log's device). */
export const Host = z
  .object({
    name: z.string().min(1),
    container: z.boolean().nullable(),
    os: z.string().nullable(),
    /** The steps (report names) that ran there. */
    steps: z.array(z.string().min(1)).min(1),
    cpu: z
      .object({ model: z.string().min(1).nullable(), cores: integer().positive().nullable(), reason: z.string().min(1).optional() })
      .strict()
      .refine((c) => (c.model !== null && c.cores !== null) || c.reason !== undefined, { message: 'a null CPU model or core count needs a reason', path: ['reason'] }),
    memory_mib: z.number().nonnegative().nullable(),
    gpus: z.array(z.object({ index: count, name: z.string().min(1), driver: z.string().nullable(), memory_mib: z.number().nonnegative().nullable(), compute_capability: z.string().optional() }).strict()),
    /** Why `gpus` is empty; null when it is not. */
    gpu_reason: z.string().min(1).nullable(),
    driver: Versioned,
    cuda: Versioned,
    cuda_driver: Versioned,
    cudnn: Versioned,
    tensorrt: Versioned,
    /** How these were read. */
    source: z.string().min(1),
  })
  .strict()
  .refine((h) => h.gpus.length > 0 || h.gpu_reason !== null, { message: 'no GPU listed needs a reason', path: ['gpu_reason'] });
export type Host = z.infer<typeof Host>;

export const Operator = z.object({ domain: z.string().min(1), op: z.string().min(1), opset: integer().nonnegative().nullable(), count: integer().positive() }).strict();

/** One target's operator coverage of one variant: which operators it cannot run, not only whether. */
export const TargetCoverage = z
  .object({
    target: z.string().min(1),
    backend: z.string().min(1),
    precision: z.enum(['fp32', 'fp16', 'int8']),
    /** The operator list checked against (backend-version). */
    list: z.string().min(1),
    /** Whether the target runs at this variant's precision (the one it would deploy). */
    precision_matches: z.boolean(),
    ok: z.boolean(),
    unsupported: z.array(z.object({ domain: z.string(), op: z.string(), opset: integer(), nodes: z.array(z.string()), reason: z.string().min(1) }).strict()),
  })
  .strict()
  .refine((t) => t.ok === (t.unsupported.length === 0), { message: 'ok must be true exactly when nothing is unsupported', path: ['ok'] });

/** Peak resident memory around a session or a benchmark mode, with how it was measured and what it includes. */
export const Memory = z
  .object({ step: z.string().min(1), target: z.string().optional(), peak_rss_mib: z.number().nonnegative(), rss_before_mib: z.number().nonnegative().optional(), method: z.string().min(1), includes: z.string().min(1) })
  .strict();

/** The runtime options a benchmark used for the variant (ONNX Runtime session options, PyTorch settings, trtexec flags). */
export const RuntimeUse = z
  .object({
    step: z.string().min(1),
    runtime: z.string().min(1),
    options: z.record(z.string(), z.unknown()),
    /** The benchmark targets measured with these options. */
    targets: z.array(z.string()),
  })
  .strict();

export const Variant = z
  .object({
    name: z.string().min(1),
    file: z.string().min(1),
    sha256,
    bytes: count,
    format: z.enum(['onnx', 'torchscript']),
    precision: z.enum(['fp32', 'fp16', 'int8']),
    ir_version: integer().positive().nullable(),
    /** The default domain's opset. */
    opset: integer().positive().nullable(),
    opsets: z.array(z.object({ domain: z.string().min(1), version: integer().positive() }).strict()),
    producer: z.string().nullable(),
    /** Why ir_version or opset is null (a TorchScript module, a model that could not be read). */
    format_reason: z.string().min(1).optional(),
    nodes: count.nullable(),
    operators: z.array(Operator).nullable(),
    operators_reason: z.string().min(1).optional(),
    coverage: z.array(TargetCoverage),
    coverage_reason: z.string().min(1).nullable(),
    runtime: z.array(RuntimeUse),
    runtime_reason: z.string().min(1).nullable(),
    memory: z.array(Memory),
    memory_reason: z.string().min(1).nullable(),
    /** The int8 entry of reports/variants.json, passed through whole (the variants step owns its fields). */
    int8: z.looseObject({}).optional(),
  })
  .strict()
  .refine((v) => v.format !== 'onnx' || (v.ir_version !== null && v.opset !== null) || v.format_reason !== undefined, { message: 'an ONNX variant without an IR version or opset needs format_reason', path: ['format_reason'] })
  .refine((v) => v.operators !== null || v.operators_reason !== undefined, { message: 'a null operator inventory needs operators_reason', path: ['operators_reason'] })
  .refine((v) => v.coverage.length > 0 || v.coverage_reason !== null, { message: 'no coverage needs coverage_reason', path: ['coverage_reason'] })
  .refine((v) => v.runtime.length > 0 || v.runtime_reason !== null, { message: 'no runtime options needs runtime_reason', path: ['runtime_reason'] })
  .refine((v) => v.memory.length > 0 || v.memory_reason !== null, { message: 'no memory figure needs memory_reason', path: ['memory_reason'] });
export type Variant = z.infer<typeof Variant>;

/** A step's status and reason as its report wrote them (a skipped step stays skipped). */
export const StepEntry = z.object({ status: z.string().min(1).nullable(), reason: z.string().nullable(), written: z.string().nullable() }).strict();

/** A scan as the sbom step reports it: only its shape is checked here (src/schema/scans.ts owns the rest). */
export const ScanEntry = z.looseObject({ status: z.string().min(1), reason: z.string().nullable().optional() });

export const ListedFile = z.object({ path: z.string().min(1), sha256, bytes: count, role: z.string(), produced_by: z.string() }).strict();

export const ExportReport = z
  .object({
    format: z.literal(EXPORT_REPORT_FORMAT),
    model: z.string().min(1),
    version: z.string().min(1),
    created: z.iso.datetime(),
    environment: z.record(z.string(), z.unknown()).nullable(),
    lineage: z.looseObject({
      /** The git commit: HEAD of the recipe's folder for "auto" (full SHA), else as the recipe pins it; never "auto"; null with commit_reason when it cannot be resolved. */
      commit: z.string().regex(/^[0-9a-f]{7,64}$/, 'expected a git commit SHA (hex)').nullable(),
      commit_reason: z.string().min(1).optional(),
      /** Whether the tree had uncommitted changes when it was resolved; null when unknown. */
      dirty: z.boolean().nullable(),
      inputs: z.array(z.unknown()),
    }),
    hosts: z.array(Host),
    /** Steps whose report names no host, with why. */
    steps_without_host: z.array(z.object({ step: z.string().min(1), reason: z.string().min(1) }).strict()),
    steps: z.record(z.string(), StepEntry),
    variants: z.array(Variant),
    thresholds: z.object({ equivalence: z.record(z.string(), z.unknown()), int8: z.record(z.string(), z.unknown()).nullable() }).strict(),
    verdicts: z.array(z.object({ gate: z.string(), verdict: z.string(), rationale: z.unknown() }).strict()),
    operator_coverage: z.object({ status: z.unknown(), targets: z.array(z.looseObject({ target: z.string(), list: z.string(), ok: z.boolean() })) }).strict().nullable(),
    benchmarks: z
      .object({
        percentiles: z.object({ definition: z.string().min(1), exact: z.string().min(1), estimates: z.string().min(1), imported: z.record(z.string(), z.string()) }).strict(),
        onnxruntime: z.array(z.looseObject({ target: z.string(), p50_ms: z.number(), p95_ms: z.number(), p99_ms: z.number() })).nullable(),
        pytorch: z.record(z.string(), z.unknown()).nullable(),
        imported: z.record(z.string(), z.record(z.string(), z.unknown())),
      })
      .strict(),
    contract_smoke: z.object({ status: z.unknown(), reason: z.unknown() }).strict().nullable(),
    scans: z.record(z.string(), ScanEntry).nullable(),
    signature: z.object({ algorithm: z.string(), files: z.array(z.string()), public_key: z.string() }).strict(),
    files: z.array(ListedFile),
  })
  .strict()
  .refine((r) => r.lineage.commit !== null || r.lineage.commit_reason !== undefined, { message: 'a null commit needs commit_reason', path: ['lineage', 'commit_reason'] });
export type ExportReport = z.infer<typeof ExportReport>;

/** A JSON path as a reader writes it: `variants[2].opset`, `steps["import-bench-gpu"].status`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const k of path) {
    if (typeof k === 'number') out += `[${k}]`;
    else if (typeof k === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) out += out ? `.${k}` : k;
    else out += `[${JSON.stringify(String(k))}]`;
  }
  return out || '(the document)';
}

function kindOf(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return `an ${typeof v}`;
}

function at(doc: unknown, path: readonly PropertyKey[]): unknown {
  let v = doc;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

const EXPECTED: Record<string, string> = { int: 'integer', number: 'number', string: 'string', boolean: 'boolean', object: 'object', array: 'list', record: 'object' };

/** One zod issue as a line: `variants[2].opset: expected integer, got "17"`. */
function issueLine(doc: unknown, issue: z.core.$ZodIssue, file: string): string {
  const where = formatPath(issue.path);
  const got = kindOf(at(doc, issue.path));
  let what: string;
  if (issue.code === 'invalid_type') what = `${issue.message.startsWith('expected ') ? issue.message : `expected ${EXPECTED[issue.expected] ?? issue.expected}`}, got ${got}`;
  else if (issue.code === 'unrecognized_keys') what = `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  else if (issue.code === 'invalid_value') what = `expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}, got ${got}`;
  else if (issue.code === 'invalid_union') what = `not any of the allowed shapes, got ${got}`;
  else what = `${issue.message}${issue.code === 'custom' ? '' : `, got ${got}`}`;
  return `${file}: ${where}: ${what}`;
}

/**
 * Validates a parsed export_report.json. Returns the report, or every problem as a located
 * line. Version 1 reports (from before) pass with `legacy: true`: only their files are checked,
 * by the reader (src/pack/trust.ts). `skip` leaves out issues under the named top-level fields
 * (the trust reader checks `files` itself, with its own messages).
 */
export function parseExportReport(doc: unknown, opts: { file?: string; skip?: string[] } = {}): { report?: ExportReport; legacy?: boolean; problems: string[] } {
  const file = opts.file ?? 'export_report.json';
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return { problems: [`${file}: expected an object, got ${kindOf(doc)}`] };
  const format = (doc as { format?: unknown }).format;
  if (format === EXPORT_REPORT_FORMAT_V1) return { legacy: true, problems: [] };
  if (format !== EXPORT_REPORT_FORMAT) return { problems: [`${file}: format: expected "${EXPORT_REPORT_FORMAT}" (or "${EXPORT_REPORT_FORMAT_V1}" from before), got ${kindOf(format)}`] };
  const r = ExportReport.safeParse(doc);
  if (r.success) return { report: r.data, problems: [] };
  const skip = new Set(opts.skip ?? []);
  const problems = r.error.issues.filter((i) => !skip.has(String(i.path[0]))).map((i) => issueLine(doc, i, file));
  return { problems, ...(problems.length ? {} : { report: doc as ExportReport }) };
}
