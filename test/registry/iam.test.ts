/**
 * The read-only consumption policy (src/registry/iam.ts): the generated document is exactly the
 * two statements of read-only access and checks clean; policies that grant more, each the way
 * real policies go wrong (AWS's own examples of over-broad grants: `s3:*`, `Resource: "*"`,
 * NotAction, a ListBucket without its s3:prefix condition), are refused naming the statement;
 * bucket names and prefixes follow S3's naming rules.
 */
import { describe, expect, it } from 'vitest';
import { IamPolicyError, bucketNameProblem, checkConsumptionPolicy, consumptionPolicy, prefixProblem, principalProblem } from '../../src/registry/iam.js';

const target = { bucket: 'paddock-packs', prefix: 'world-detector/' };
const ROLE = 'arn:aws:iam::123456789012:role/vehicle-fleet-reader';
const objects = 'arn:aws:s3:::paddock-packs/world-detector/*';
const bucket = 'arn:aws:s3:::paddock-packs';
const read = { Sid: 'Read', Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: objects };
const list = { Sid: 'List', Effect: 'Allow', Action: 's3:ListBucket', Resource: bucket, Condition: { StringLike: { 's3:prefix': ['world-detector/*'] } } };
const doc = (...Statement: object[]) => ({ Version: '2012-10-17', Statement });

describe('consumptionPolicy', () => {
  it('generates read-only access to the prefix: GetObject/GetObjectVersion on its objects, ListBucket on the bucket under an s3:prefix condition, nothing else', () => {
    expect(consumptionPolicy(target)).toEqual({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'ReadPackObjects', Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: objects },
        { Sid: 'ListPackPrefix', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: bucket, Condition: { StringLike: { 's3:prefix': ['world-detector/*'] } } },
      ],
    });
    expect(checkConsumptionPolicy(consumptionPolicy(target), target)).toEqual([]);
  });

  it('with a principal, a bucket policy naming it in every statement, which checks clean against it', () => {
    const p = consumptionPolicy({ ...target, principal: ROLE });
    expect(p.Statement.map((s) => s.Principal)).toEqual([{ AWS: ROLE }, { AWS: ROLE }]);
    expect(checkConsumptionPolicy(p, { ...target, principal: ROLE })).toEqual([]);
    expect(checkConsumptionPolicy(p, { ...target, principal: 'arn:aws:iam::123456789012:role/other' })).toEqual([
      `Statement[0]: Principal {"AWS":"${ROLE}"}: expected { "AWS": "arn:aws:iam::123456789012:role/other" }`,
      `Statement[1]: Principal {"AWS":"${ROLE}"}: expected { "AWS": "arn:aws:iam::123456789012:role/other" }`,
    ]);
  });

  it.each([
    ['a bucket with upper case', { bucket: 'Paddock', prefix: 'a/' }, 'consumption.bucket: "Paddock" is not a valid S3 bucket name: only lower-case letters, digits, dots (.) and hyphens (-) are allowed'],
    ['a bucket too short', { bucket: 'ab', prefix: 'a/' }, '2 characters; a bucket name has 3 to 63'],
    ['a bucket formatted as an IP address', { bucket: '192.168.5.4', prefix: 'a/' }, 'formatted as an IP address'],
    ['a bucket with two adjacent dots', { bucket: 'my..bucket', prefix: 'a/' }, 'two adjacent dots'],
    ['a bucket ending with a hyphen', { bucket: 'bucket-', prefix: 'a/' }, 'begin and end with a letter or digit'],
    ['a reserved prefix', { bucket: 'xn--bucket', prefix: 'a/' }, 'the prefix xn-- is reserved'],
    ['a reserved suffix', { bucket: 'packs-s3alias', prefix: 'a/' }, 'the suffix -s3alias is reserved'],
    ['an empty prefix', { bucket: 'packs', prefix: '' }, 'consumption.prefix: "" is refused: empty: it would grant every object of the bucket'],
    ['a prefix without its trailing slash', { bucket: 'packs', prefix: 'world-detector' }, 'it must end with "/": "world-detector" would also grant "world-detector-other/..."'],
    ['a wildcard in the prefix', { bucket: 'packs', prefix: 'world-*/' }, "only letters, digits"],
    ['a policy variable in the prefix', { bucket: 'packs', prefix: '${aws:username}/' }, 'policy variables'],
    ['a leading slash', { bucket: 'packs', prefix: '/models/' }, 'it starts with "/"'],
    ['a ".." segment', { bucket: 'packs', prefix: 'a/../b/' }, 'an empty, "." or ".." segment'],
    ['a wildcard principal', { bucket: 'packs', prefix: 'a/', principal: '*' }, 'consumption.principal: "*" is refused: a wildcard principal would let anyone read'],
    ['a principal that is not an ARN', { bucket: 'packs', prefix: 'a/', principal: 'fleet-reader' }, 'expected arn:aws:iam::<12-digit account>:role/<name>'],
  ])('refuses %s', (_what, t, message) => {
    expect(() => consumptionPolicy(t)).toThrow(IamPolicyError);
    expect(() => consumptionPolicy(t)).toThrow(message);
    expect(() => checkConsumptionPolicy({}, t)).toThrow(message);
  });

  it('accepts the names S3 accepts', () => {
    for (const b of ['abc', 'paddock-packs', 'my.bucket.name', 'a'.repeat(63), '0packs9']) expect(bucketNameProblem(b), b).toBeUndefined();
    for (const p of ['world-detector/', 'team/world-detector/v1/', "it's(1)!/"]) expect(prefixProblem(p), p).toBeUndefined();
    for (const q of [ROLE, 'arn:aws:iam::123456789012:user/ci', 'arn:aws:iam::123456789012:root', '123456789012']) expect(principalProblem(q), q).toBeUndefined();
  });
});

describe('checkConsumptionPolicy refuses what grants more than read-only consumption, naming the statement', () => {
  it.each<[string, unknown, string[]]>([
    ['s3:* on everything', doc({ Effect: 'Allow', Action: 's3:*', Resource: '*' }), ['Statement[0]: Action s3:*: every action (a wildcard)', `Statement[0]: Resource *: outside ${objects.slice(0, -1)}*`, `no statement allows s3:GetObject on ${objects.slice(0, -1)}*: the consumer could not read the pack`]],
    ['"*" as the action', doc(read, { Effect: 'Allow', Action: '*', Resource: objects }), ['Statement[1]: Action *: every action (a wildcard)']],
    ['a wildcard action s3:Get*', doc({ ...read, Action: 's3:Get*' }), ['Statement[0]: Action s3:Get*: a wildcard: it matches more than s3:GetObject, s3:GetObjectVersion, s3:ListBucket', `no statement allows s3:GetObject on ${objects.slice(0, -1)}*: the consumer could not read the pack`]],
    ['a write', doc({ ...read, Action: ['s3:GetObject', 's3:PutObject'] }), ['Statement[0]: Action s3:PutObject: a write or delete action']],
    ['a delete', doc(read, list, { Sid: 'Clean', Effect: 'Allow', Action: 's3:DeleteObject', Resource: objects }), ['Statement[2]: Action s3:DeleteObject: a write or delete action']],
    ['an ACL change, lower-case (action names are case-insensitive)', doc({ ...read, Action: ['s3:getobject', 's3:putobjectacl'] }), ['Statement[0]: Action s3:putobjectacl: an ACL action']],
    ['a read that is not a consumer\'s', doc(read, { Effect: 'Allow', Action: 's3:GetBucketPolicy', Resource: bucket }), ['Statement[1]: Action s3:GetBucketPolicy: not a read action of a consumer (only s3:GetObject, s3:GetObjectVersion and s3:ListBucket)']],
    ['another service', doc(read, { Effect: 'Allow', Action: 'iam:PassRole', Resource: '*' }), ['Statement[1]: Action iam:PassRole: not a read action of a consumer (only s3:GetObject, s3:GetObjectVersion and s3:ListBucket)', 'Statement[1]: Resource *: outside arn:aws:s3:::paddock-packs/world-detector/*']],
    ['the whole bucket\'s objects', doc({ ...read, Resource: 'arn:aws:s3:::paddock-packs/*' }), ['Statement[0]: Resource arn:aws:s3:::paddock-packs/*: outside arn:aws:s3:::paddock-packs/world-detector/*', 'no statement allows s3:GetObject on arn:aws:s3:::paddock-packs/world-detector/*: the consumer could not read the pack']],
    ['a sibling prefix through a wildcard', doc(read, { ...read, Sid: 'More', Resource: 'arn:aws:s3:::paddock-packs/world-*' }), ['Statement[1]: Resource arn:aws:s3:::paddock-packs/world-*: outside arn:aws:s3:::paddock-packs/world-detector/*']],
    ['another bucket', doc(read, { ...read, Resource: 'arn:aws:s3:::other-bucket/world-detector/*' }), ['Statement[1]: Resource arn:aws:s3:::other-bucket/world-detector/*: outside arn:aws:s3:::paddock-packs/world-detector/*']],
    ['NotAction', doc(read, { Effect: 'Allow', NotAction: 's3:DeleteObject', Resource: objects }), ['Statement[1]: NotAction: grants everything except what it names; name what is granted instead']],
    ['NotResource', doc(read, { Effect: 'Allow', Action: 's3:GetObject', NotResource: 'arn:aws:s3:::secrets/*' }), ['Statement[1]: NotResource: grants everything except what it names; name what is granted instead']],
    ['a ListBucket without a condition', doc(read, { Effect: 'Allow', Action: 's3:ListBucket', Resource: bucket }), ['Statement[1]: s3:ListBucket without a Condition StringLike s3:prefix "world-detector/*": it lists every key of the bucket']],
    ['a ListBucket condition outside the prefix', doc(read, { ...list, Condition: { StringLike: { 's3:prefix': ['*'] } } }), ['Statement[1]: Condition s3:prefix "*": outside world-detector/*']],
    ['ListBucket and GetObject under one condition (the GetObject never allowed)', doc({ Effect: 'Allow', Action: ['s3:ListBucket', 's3:GetObject'], Resource: [bucket, objects], Condition: { StringLike: { 's3:prefix': 'world-detector/*' } } }), ['Statement[0]: s3:ListBucket and object reads in one statement: the s3:prefix condition is absent from GetObject requests, so it would never allow them; give ListBucket its own statement']],
    ['the bucket as the resource of an object read', doc({ ...read, Resource: [objects, bucket] }), ['Statement[0]: Resource arn:aws:s3:::paddock-packs: the bucket itself, but the statement grants no s3:ListBucket']],
    ['ListBucket on an object ARN', doc(read, { ...list, Resource: objects }), ['Statement[1]: Resource arn:aws:s3:::paddock-packs/world-detector/*: objects, but the statement grants no object read', 'Statement[1]: s3:ListBucket without the bucket arn:aws:s3:::paddock-packs as a Resource (it applies to the bucket, not to objects)']],
    ['an Effect that is not Allow', doc({ ...read, Effect: 'allow' }), ['Statement[0]: Effect "allow": expected "Allow" (or a "Deny" with a Sid saying why)', 'no statement allows s3:GetObject on arn:aws:s3:::paddock-packs/world-detector/*: the consumer could not read the pack']],
    ['a Deny without a reason', doc(read, { Effect: 'Deny', Action: 's3:*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }), ['Statement[1]: Effect Deny without a Sid saying why']],
    ['a public principal', doc({ ...read, Principal: '*' }), ['Statement[0]: Principal "*": anyone could read']],
    ['a public principal as AWS "*"', doc({ ...read, Principal: { AWS: '*' } }), ['Statement[0]: Principal "*": anyone could read']],
    ['NotPrincipal', doc({ ...read, NotPrincipal: { AWS: ROLE } }), ['Statement[0]: NotPrincipal: grants everything except what it names; name what is granted instead']],
    ['the legacy grammar', { Version: '2008-10-17', Statement: [read] }, ['Version: "2008-10-17", expected "2012-10-17" (without it IAM reads the policy in the legacy 2008-10-17 grammar)']],
    ['no statement', doc(), ['Statement: none; the consumer could read nothing']],
    ['an unknown element', { ...doc(read), Extra: 1 }, ['Extra: not a policy element (Version, Id, Statement)']],
    ['not an object', [read], ['the policy is not a JSON object']],
  ])('%s', (_what, policy, problems) => {
    expect(checkConsumptionPolicy(policy, target)).toEqual(problems);
  });

  it.each<[string, unknown]>([
    ['one statement object rather than a list', { Version: '2012-10-17', Statement: read }],
    ['a narrower object resource under the prefix', doc({ ...read, Resource: 'arn:aws:s3:::paddock-packs/world-detector/1.2.0/*' })],
    ['a Deny with a Sid saying why (it only takes away)', doc(read, list, { Sid: 'DenyInsecureTransport', Effect: 'Deny', Action: 's3:*', Resource: [bucket, `${bucket}/*`], Condition: { Bool: { 'aws:SecureTransport': 'false' } } })],
    ['StringEquals on the exact prefix', doc(read, { ...list, Condition: { StringEquals: { 's3:prefix': 'world-detector/' } } })],
  ])('accepts %s', (_what, policy) => {
    expect(checkConsumptionPolicy(policy, target)).toEqual([]);
  });
});
