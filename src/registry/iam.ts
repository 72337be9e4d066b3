/**
 * The policy document for read-only production consumption of a promoted pack (issue 20, item 4):
 * what a vehicle fleet's reader role may do with the pack's S3 prefix, generated, and any such
 * document (generated or hand-written) checked against that intent.
 *
 * Read-only means: s3:GetObject and s3:GetObjectVersion on the objects under the prefix, and
 * s3:ListBucket on the bucket restricted by the `s3:prefix` condition key to the prefix. Nothing
 * else: ListBucket is a bucket-level action whose resource is the bucket ARN, so without the
 * condition it lists every key of the bucket (AWS, "Amazon S3 condition key examples":
 * "s3:prefix"); and the condition key exists only in ListBucket requests, so a statement that
 * holds both ListBucket and GetObject under that condition never allows the GetObject (an
 * operator on a missing key is false, IAM User Guide, "Condition operators ... IfExists").
 *
 * With `principal` the document is a bucket policy (a resource-based policy names its
 * Principal); without, an identity policy to attach to the reader's role (IAM User Guide,
 * "Identity-based policies and resource-based policies").
 */
import { InputError } from '../files/input-error.js';

export class IamPolicyError extends InputError {}

/** The IAM policy grammar's version that supports policy variables; "2008-10-17" is the legacy one (IAM JSON policy elements: Version). */
export const IAM_POLICY_VERSION = '2012-10-17';

export interface IamStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: { AWS: string | string[] };
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface IamPolicy {
  Version: typeof IAM_POLICY_VERSION;
  Statement: IamStatement[];
}

export interface ConsumptionTarget {
  bucket: string;
  /** The key prefix the consumer may read, ending with `/` (e.g. `world-detector/`). */
  prefix: string;
  /** An IAM role or user ARN, or a 12-digit account id: makes the document a bucket policy. */
  principal?: string;
}

/** The read actions a consumption policy may grant on objects, and on the bucket. */
const OBJECT_READ = ['s3:GetObject', 's3:GetObjectVersion'];
const BUCKET_READ = ['s3:ListBucket'];

/**
 * Why `bucket` is not a general purpose bucket name, or undefined: S3 User Guide, "General purpose
 * bucket naming rules": 3-63 characters of lower-case letters, digits, dots and hyphens, starting
 * and ending with a letter or digit, no two adjacent dots, not an IP address, none of the reserved
 * prefixes and suffixes.
 */
export function bucketNameProblem(bucket: string): string | undefined {
  if (bucket.length < 3 || bucket.length > 63) return `${bucket.length} characters; a bucket name has 3 to 63`;
  if (!/^[a-z0-9.-]+$/.test(bucket)) return 'only lower-case letters, digits, dots (.) and hyphens (-) are allowed';
  if (!/^[a-z0-9]/.test(bucket) || !/[a-z0-9]$/.test(bucket)) return 'it must begin and end with a letter or digit';
  if (bucket.includes('..')) return 'two adjacent dots';
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(bucket)) return 'formatted as an IP address';
  for (const p of ['xn--', 'sthree-', 'amzn-s3-demo-']) if (bucket.startsWith(p)) return `the prefix ${p} is reserved`;
  for (const s of ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3']) if (bucket.endsWith(s)) return `the suffix ${s} is reserved`;
  return undefined;
}

/**
 * Why `prefix` cannot scope a read-only grant, or undefined. Only S3's "safe characters" for keys
 * (S3 User Guide, "Naming Amazon S3 objects": letters, digits, `! - _ . ' ( )` and `/`), so
 * nothing in it is read as a wildcard (`*`, `?`) or a policy variable (`${...}`); it must end with
 * `/`, since `team` would also grant `team-other/`; no empty, `.` or `..` segment; not empty
 * (that would grant the whole bucket).
 */
export function prefixProblem(prefix: string): string | undefined {
  if (!prefix) return 'empty: it would grant every object of the bucket';
  if (prefix.startsWith('/')) return 'it starts with "/"; S3 keys have no leading slash';
  if (!/^[A-Za-z0-9!_.'()/-]+$/.test(prefix)) return "only letters, digits, ! - _ . ' ( ) and / are allowed (S3's safe characters; * ? and ${ would be read as wildcards or policy variables)";
  if (!prefix.endsWith('/')) return `it must end with "/": "${prefix}" would also grant "${prefix}-other/..."`;
  const segments = prefix.slice(0, -1).split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) return 'an empty, "." or ".." segment';
  if (Buffer.byteLength(prefix) > 1024) return 'longer than an S3 key (1024 bytes)';
  return undefined;
}

/** Why `principal` is not an IAM role/user ARN or an account id, or undefined (IAM User Guide, "IAM identifiers"). */
export function principalProblem(principal: string): string | undefined {
  if (principal.includes('*')) return 'a wildcard principal would let anyone read';
  if (/^\d{12}$/.test(principal)) return undefined;
  if (/^arn:aws:iam::\d{12}:(root|(role|user)\/[\w+=,.@/-]{1,512})$/.test(principal)) return undefined;
  return 'expected arn:aws:iam::<12-digit account>:role/<name>, :user/<name>, :root, or a 12-digit account id';
}

function validated(t: ConsumptionTarget): ConsumptionTarget {
  const b = bucketNameProblem(t.bucket);
  if (b) throw new IamPolicyError(`consumption.bucket: "${t.bucket}" is not a valid S3 bucket name: ${b}`);
  const p = prefixProblem(t.prefix);
  if (p) throw new IamPolicyError(`consumption.prefix: "${t.prefix}" is refused: ${p}`);
  if (t.principal !== undefined) {
    const q = principalProblem(t.principal);
    if (q) throw new IamPolicyError(`consumption.principal: "${t.principal}" is refused: ${q}`);
  }
  return t;
}

/**
 * The read-only consumption policy for `bucket`/`prefix` (see the file's comment): two Allow
 * statements, objects under the prefix and the bucket's listing under it. A bad bucket, prefix or
 * principal is an IamPolicyError naming it.
 */
export function consumptionPolicy(target: ConsumptionTarget): IamPolicy {
  const { bucket, prefix, principal } = validated(target);
  const who = principal ? { Principal: { AWS: principal } } : {};
  return {
    Version: IAM_POLICY_VERSION,
    Statement: [
      { Sid: 'ReadPackObjects', Effect: 'Allow', ...who, Action: [...OBJECT_READ], Resource: `arn:aws:s3:::${bucket}/${prefix}*` },
      { Sid: 'ListPackPrefix', Effect: 'Allow', ...who, Action: [...BUCKET_READ], Resource: `arn:aws:s3:::${bucket}`, Condition: { StringLike: { 's3:prefix': [`${prefix}*`] } } },
    ],
  };
}

const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);
/** The literal part of an IAM pattern, up to its first wildcard (`*` any run, `?` one character). */
const literal = (s: string) => s.split(/[*?]/)[0];
const STATEMENT_KEYS = ['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition'];

/** Why an action is not one a read-only consumer may have, or undefined when it is one of OBJECT_READ / BUCKET_READ. */
function actionProblem(action: string): string | undefined {
  // Action names are case-insensitive (IAM JSON policy elements: Action).
  const a = action.toLowerCase();
  if (a === '*' || a === 's3:*') return 'every action (a wildcard)';
  if (a.includes('*') || a.includes('?')) return `a wildcard: it matches more than ${[...OBJECT_READ, ...BUCKET_READ].join(', ')}`;
  if ([...OBJECT_READ, ...BUCKET_READ].some((x) => x.toLowerCase() === a)) return undefined;
  if (a.includes('acl')) return 'an ACL action';
  if (/^s3:(put|delete|create|restore|replicate|abort|update|bypass|initiate|write|copy|rename)/.test(a)) return 'a write or delete action';
  return 'not a read action of a consumer (only s3:GetObject, s3:GetObjectVersion and s3:ListBucket)';
}

/**
 * Every way `doc` grants more than read-only consumption of `bucket`/`prefix`, each naming its
 * statement (`Statement[1]: Action s3:PutObject: a write or delete action`): a write, delete, ACL
 * or wildcard action; a resource outside the prefix; NotAction, NotResource or NotPrincipal; an
 * Effect other than Allow, except a Deny with a Sid saying why (a Deny only takes away); a
 * ListBucket without an `s3:prefix` condition inside the prefix; a wildcard or unexpected
 * principal. Empty when the document is sound.
 */
export function checkConsumptionPolicy(doc: unknown, target: ConsumptionTarget): string[] {
  const { bucket, prefix, principal } = validated(target);
  const problems: string[] = [];
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return ['the policy is not a JSON object'];
  const d = doc as Record<string, unknown>;
  for (const k of Object.keys(d)) if (k !== 'Version' && k !== 'Statement' && k !== 'Id') problems.push(`${k}: not a policy element (Version, Id, Statement)`);
  if (d.Version !== IAM_POLICY_VERSION) problems.push(`Version: ${JSON.stringify(d.Version)}, expected "${IAM_POLICY_VERSION}" (without it IAM reads the policy in the legacy 2008-10-17 grammar)`);
  const statements = asList(d.Statement);
  if (!statements.length) problems.push('Statement: none; the consumer could read nothing');
  const bucketArn = `arn:aws:s3:::${bucket}`;
  const objects = `${bucketArn}/${prefix}`;
  let readsObjects = false;
  statements.forEach((raw, i) => {
    const at = `Statement[${i}]`;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return void problems.push(`${at}: not an object`);
    const s = raw as Record<string, unknown>;
    for (const k of Object.keys(s)) if (!STATEMENT_KEYS.includes(k)) problems.push(`${at}: ${k}: not a statement element`);
    for (const k of ['NotAction', 'NotResource', 'NotPrincipal']) if (k in s) problems.push(`${at}: ${k}: grants everything except what it names; name what is granted instead`);
    if (s.Effect === 'Deny') {
      // A Deny grants nothing, so its actions and resources need not be read-only; it must still say why.
      if (typeof s.Sid !== 'string' || !s.Sid) problems.push(`${at}: Effect Deny without a Sid saying why`);
      return;
    }
    if (s.Effect !== 'Allow') return void problems.push(`${at}: Effect ${JSON.stringify(s.Effect)}: expected "Allow" (or a "Deny" with a Sid saying why)`);
    if (principal !== undefined || 'Principal' in s) {
      const p = s.Principal;
      const aws = p === '*' ? ['*'] : p && typeof p === 'object' && !Array.isArray(p) ? asList((p as Record<string, unknown>).AWS) : [];
      if (p === '*' || aws.some((x) => typeof x === 'string' && x.includes('*'))) problems.push(`${at}: Principal "*": anyone could read`);
      else if (p && typeof p === 'object' && Object.keys(p).some((k) => k !== 'AWS')) problems.push(`${at}: Principal ${JSON.stringify(p)}: only an AWS principal is expected`);
      else if (principal !== undefined && (aws.length !== 1 || aws[0] !== principal)) problems.push(`${at}: Principal ${JSON.stringify(p ?? null)}: expected { "AWS": "${principal}" }`);
    }
    const actions = asList(s.Action);
    if (!actions.length && !('NotAction' in s)) problems.push(`${at}: no Action`);
    let objectActions = false;
    let listBucket = false;
    // Once an action is refused, a resource that fits none of the rest adds nothing to say.
    let refused = 'NotAction' in s;
    for (const a of actions) {
      if (typeof a !== 'string') {
        problems.push(`${at}: Action ${JSON.stringify(a)}: not a string`);
        continue;
      }
      const why = actionProblem(a);
      if (why) {
        problems.push(`${at}: Action ${a}: ${why}`);
        refused = true;
      }
      else if (BUCKET_READ.some((x) => x.toLowerCase() === a.toLowerCase())) listBucket = true;
      else objectActions = true;
    }
    const resources = asList(s.Resource);
    if (!resources.length && !('NotResource' in s)) problems.push(`${at}: no Resource`);
    let objectResource = false;
    for (const r of resources) {
      if (typeof r !== 'string') {
        problems.push(`${at}: Resource ${JSON.stringify(r)}: not a string`);
        continue;
      }
      if (r === bucketArn) {
        if (!listBucket && !refused) problems.push(`${at}: Resource ${r}: the bucket itself, but the statement grants no s3:ListBucket`);
        continue;
      }
      // A pattern stays inside the prefix when its literal part (before any wildcard) starts with it.
      if (!literal(r).startsWith(objects)) problems.push(`${at}: Resource ${r}: outside ${objects}*`);
      else if (!objectActions && !refused) problems.push(`${at}: Resource ${r}: objects, but the statement grants no object read`);
      else objectResource = true;
    }
    if (objectActions && objectResource) readsObjects = true;
    if (listBucket) {
      if (!resources.includes(bucketArn)) problems.push(`${at}: s3:ListBucket without the bucket ${bucketArn} as a Resource (it applies to the bucket, not to objects)`);
      const cond = s.Condition as Record<string, Record<string, unknown>> | undefined;
      const prefixes = cond && typeof cond === 'object' ? ['StringLike', 'StringEquals'].flatMap((op) => (cond[op] && typeof cond[op] === 'object' ? asList(cond[op]['s3:prefix']) : [])) : [];
      if (!prefixes.length) problems.push(`${at}: s3:ListBucket without a Condition StringLike s3:prefix "${prefix}*": it lists every key of the bucket`);
      for (const v of prefixes) if (typeof v !== 'string' || !literal(v).startsWith(prefix)) problems.push(`${at}: Condition s3:prefix ${JSON.stringify(v)}: outside ${prefix}*`);
      if (objectActions && prefixes.length) problems.push(`${at}: s3:ListBucket and object reads in one statement: the s3:prefix condition is absent from GetObject requests, so it would never allow them; give ListBucket its own statement`);
    }
  });
  if (statements.length && !readsObjects) problems.push(`no statement allows s3:GetObject on ${objects}*: the consumer could not read the pack`);
  return problems;
}
