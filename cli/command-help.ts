/**
 * paddock's commands and options, declared once: bin/paddock.ts parses the command line with
 * OPTIONS, checks each command's options against COMMANDS, and prints the help made here
 * (`paddock --help`, `paddock help <command>`, `paddock <command> --help`). Text only, no I/O and
 * no imports: `paddock --help` stays fast on a vehicle computer (bench/startup.ts).
 *
 * Every line of help fits 80 columns (an SSH session's terminal), test/cli/help.test.ts checks it:
 *   Usage: paddock runs [--json] [--limit N]
 *
 *   List recent runs, newest first: id, recipe, status, host, when, how long.
 *   ...
 */

/** One command-line option: how node:util parseArgs reads it, and its help. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** The value's placeholder in usage lines: `--limit N`. */
  arg?: string;
  /** What it does, where a command does not say otherwise. */
  text: string;
}

/** Every option any command takes (parseArgs's `options`); a command accepts those it lists, and GLOBAL_OPTIONS. */
export const OPTIONS = {
  help: { type: 'boolean', short: 'h', text: 'this help' },
  version: { type: 'boolean', text: "paddock's version" },
  debug: { type: 'boolean', text: 'print the stack of an error (also PADDOCK_DEBUG=1); steps inherit it' },
  headless: { type: 'boolean', text: 'no TUI: one line per event (automatic when not on a terminal, or when CI is set)' },
  json: { type: 'boolean', text: 'JSON on stdout' },
  'gate-policy': { type: 'string', arg: 'P', text: 'how a headless run answers gates that need a person: fail (default: such a gate fails), approve or reject' },
  concurrency: { type: 'string', arg: 'N', text: "at most N steps at once, 1 to 256 (default: the recipe's concurrency)" },
  junit: { type: 'string', arg: 'FILE', text: "write the gates' verdicts as JUnit XML when the run ends (for CI systems)" },
  host: { type: 'string', arg: 'NAME', text: 'run every target\'s steps in containers on this Docker host (a name from hosts.yaml; "docker" is the local engine), or "pool": spread over the hosts of the hosts file by labels, GPUs and free slots, instead of where the recipe says' },
  hosts: { type: 'string', arg: 'FILE', text: 'the hosts file (default: $PADDOCK_HOSTS, else hosts.yaml beside the recipe, else ~/.config/paddock/hosts.yaml; docs/hosts.md)' },
  target: { type: 'string', arg: 'NAME', text: 'only this target of the recipe, and the package steps that run on it or on none' },
  key: { type: 'string', multiple: true, arg: 'FILE', text: 'a keyring file (PEM public keys) of publishers to trust; repeatable (default: $PADDOCK_TRUSTED_KEYS, else ~/.config/paddock/trusted-keys.pem; none: the pack\'s self-consistency only)' },
  keyring: { type: 'string', multiple: true, arg: 'FILE', text: 'the same as --key' },
  strict: { type: 'boolean', text: 'fail when no trusted key is configured' },
  limit: { type: 'string', arg: 'N', text: 'at most N' },
  gt: { type: 'string', arg: 'FILE', text: 'the ground truth: a COCO annotations JSON' },
  dt: { type: 'string', arg: 'FILE', text: 'the detections: a COCO results JSON' },
  tracker: { type: 'string', arg: 'FILE', text: "a tracker's results: a MOTChallenge text file" },
  frames: { type: 'string', arg: 'N', text: 'the number of frames of the sequence' },
  out: { type: 'string', arg: 'DIR', text: 'where to write' },
  tiny: { type: 'boolean', text: 'a tiny world (12 scenes of 3 frames, one 2-second drive): for tests' },
  full: { type: 'boolean', text: "the long demo (fixtures/demo/paddock.full.yaml): 100 bench-variants iterations and 1000 bootstrap replicates, where the quick one takes 30 and 200" },
  model: { type: 'string', arg: 'DIR', text: 'a model directory: model.onnx and its inference_config.json (the contract)' },
  manifest: { type: 'string', arg: 'FILE', text: 'the frames to run on: a manifest (JSON lines, docs/world.md)' },
  slice: { type: 'string', arg: 'S', text: "only this slice's failures (e.g. night+rain)" },
  kind: { type: 'string', arg: 'K', text: 'only failures of this kind (e.g. false-positive)' },
  registry: { type: 'string', arg: 'SPEC', text: 'the model registry: a SQLite file or postgres://user@host/db (password from PGPASSWORD or ~/.pgpass; default: $PADDOCK_REGISTRY, else <home>/registry.db)' },
  policy: { type: 'string', arg: 'FILE', text: 'the registry policy: roles, signers, governance (default: $PADDOCK_REGISTRY_POLICY, else <home>/registry-policy.yaml)' },
  reason: { type: 'string', arg: 'TEXT', text: 'why (recorded with the change)' },
  alias: { type: 'string', arg: 'A', text: 'only this alias: staging, candidate, production or rollback' },
  role: { type: 'string', arg: 'R', text: 'the role you decide as: technical, safety, security or product' },
  stage: { type: 'string', arg: 'S', text: 'the stage the decision is for: production (default), candidate or staging' },
  reject: { type: 'boolean', text: 'a rejection instead of an approval (it blocks the promotion)' },
  as: { type: 'string', arg: 'NAME', text: "who you are (default: git's user.email, else $USER); your key must be this identity's in the policy" },
  justification: { type: 'string', arg: 'TEXT', text: 'why the finding is acceptable' },
  approver: { type: 'string', arg: 'NAME', text: 'who accepted it' },
  expires: { type: 'string', arg: 'DATE', text: 'the last day it holds, YYYY-MM-DD (UTC); past is refused' },
  'for-version': { type: 'string', arg: 'V', text: 'only this version (default: every version of the model)' },
  governance: { type: 'string', arg: 'FILE', text: "a governance_report.json the pipeline's governance step wrote for this version" },
  pack: { type: 'string', arg: 'DIR', text: "the version's signed pack: the governance checks are run here, against the policy" },
  expect: { type: 'string', arg: 'V', text: 'the production version you decided against ("none": unset); refused when production is elsewhere (default: what production is now)' },
  hooks: { type: 'string', arg: 'FILE', text: 'a YAML file of post-promotion hooks (webhooks, retention) to run for model_version.rolled_back (default: none run)' },
  canned: { type: 'string', arg: 'NAME', text: 'a canned query: who-approved-what or versions-with-a-waived-finding' },
  parquet: { type: 'string', multiple: true, arg: 'DIR', text: 'a folder of Parquet reports, each *.parquet a view in schema reports; repeatable' },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

/** Options every command takes. */
export const GLOBAL_OPTIONS: readonly OptionName[] = ['help', 'debug', 'version'];

/** An option a command takes, with its own wording (and placeholder) where the shared ones do not fit. */
export type CommandOption = OptionName | readonly [OptionName, string] | readonly [OptionName, string, string];

export interface CommandHelp {
  /** The command words: "run", "world build". */
  name: string;
  /** Its arguments, for the usage line: "<recipe.yaml>". */
  args?: string;
  /** One line for the command list of `paddock --help`. */
  summary: string;
  /** A few sentences for its own help (wrapped to 80 columns). */
  about: string;
  options: readonly CommandOption[];
  /** Options it cannot do without (shown without brackets in the usage line). */
  required?: readonly OptionName[];
  /** 1 to 3: a command line and what it does. */
  examples: readonly (readonly [string, string])[];
  /** Its exit status, where it has more than 0 and 2. */
  exit?: string;
}

const RUN_EXIT = '0 ok, 1 a gate failed or was rejected, 2 an error (a bad recipe or flag, a step failed, the run was stopped); the same after q in the workbench';
const NDJSON: CommandOption = ['json', 'NDJSON events on stdout, one a line (implies --headless; docs/events.md)'];
/** run, demo and resume hand --registry to the promote stage's steps (as $PADDOCK_REGISTRY; a recipe's own registry: wins). */
const REGISTRY_RUN: CommandOption = ['registry', "the model registry the promote stage's steps use where the recipe names none: a SQLite file or postgres://user@host/db (default: $PADDOCK_REGISTRY, else <home>/registry.db)"];
const REGISTRY: CommandOption = 'registry';
const REGISTRY_EXIT = '0 done, 1 refused (the reason is printed), 2 a bad argument or input (an unknown model, a bad version or date, a registry that cannot be reached)';

/** The commands, in the order `paddock --help` lists them. */
export const COMMANDS: readonly CommandHelp[] = [
  {
    name: 'demo',
    summary: 'run the built-in demo recipe (fixtures/demo/paddock.yaml; --full: the long one)',
    about: 'Runs the built-in demo recipe on the built-in world: package, evaluate and gate the candidate detector against production, all computed on this machine. On a terminal it opens the workbench; its release gate asks you there. Headless, that gate is approved by policy unless --gate-policy says otherwise. Outputs go to the checkout\'s build/ ($PADDOCK_DEMO_DIR to choose; installed: ~/.cache/paddock/demo).',
    options: ['headless', NDJSON, ['gate-policy', 'how a headless run answers gates that need a person: approve (the demo\'s default: its release gate needs sign-off), fail or reject'], 'concurrency', 'junit', 'host', 'hosts', 'full', REGISTRY_RUN],
    examples: [
      ['paddock demo', 'in the workbench: watch it, approve or reject its release gate'],
      ['paddock demo --full --headless', 'the long version: the same steps with the full iteration and bootstrap counts'],
      ['paddock demo --headless --gate-policy fail', 'no person there: the release gate fails (exit 1)'],
    ],
    exit: RUN_EXIT,
  },
  {
    name: 'run',
    args: '<recipe.yaml>',
    summary: "run a recipe's stages: package, evaluate, replay & sim, promote",
    about: "Plans the recipe's steps and gates and runs them: the workbench on a terminal, one line per event otherwise (or NDJSON with --json). Everything is recorded in the run store ($PADDOCK_HOME, default ./.paddock); a stopped run goes on with paddock resume.",
    options: ['headless', NDJSON, 'gate-policy', 'concurrency', 'junit', 'host', 'hosts', REGISTRY_RUN],
    examples: [
      ['paddock run paddock.yaml', 'in the workbench; gates that need a person ask there'],
      ['paddock run paddock.yaml --json --gate-policy reject', 'in CI: NDJSON, gates needing a person are rejected'],
      ['paddock run paddock.yaml --hosts lab.yaml --host pool --junit gates.xml', 'steps spread over the hosts of lab.yaml; verdicts as JUnit'],
    ],
    exit: RUN_EXIT,
  },
  {
    name: 'package',
    args: '<recipe.yaml>',
    summary: 'the package stage only: export, variants, equivalence, Triton, SBOM, signing',
    about: "Runs the recipe's package stage only (and its gates): export, precision variants, numerical equivalence, benchmarks, the Triton repository, the SBOM and the signed pack (docs/package.md). With --target, only that target.",
    options: ['target', 'headless', NDJSON, 'gate-policy', 'concurrency', 'junit', 'host', 'hosts'],
    examples: [
      ['paddock package paddock.yaml', 'every target of the recipe'],
      ['paddock package paddock.yaml --target trt-fp16 --headless', 'one target, one line per event'],
    ],
    exit: RUN_EXIT,
  },
  {
    name: 'resume',
    args: '<run-id>',
    summary: 'go on with a stopped run, with the options it was started with',
    about: 'Goes on with a stopped or failed run: steps that succeeded are kept, the others run again. It runs with the options the run was started with; an option given here wins (and is recorded for the next resume). --host cannot change. A run id may be any unique prefix.',
    options: ['headless', NDJSON, 'gate-policy', 'concurrency', 'junit', 'host', 'hosts', REGISTRY_RUN],
    examples: [
      ['paddock resume r-20261202-135349', 'the run, from where it stopped'],
      ['paddock resume r-20261202-135349 --headless --gate-policy approve', 'headless, approving what asks'],
    ],
    exit: RUN_EXIT,
  },
  {
    name: 'verify',
    args: '<pack-dir>',
    summary: "check a pack's signer, signature and every file's sha256",
    about: "Checks a pack: who signed it (against trusted keys), the signature over its export report, every listed file's sha256, and that nothing is in the pack unlisted (docs/package.md). Without trusted keys only its self-consistency can be checked, and it says so.",
    options: ['key', 'keyring', 'strict', ['json', 'the result as one JSON object']],
    examples: [
      ['paddock verify build/packs/world-detector/1.1.0 --key publisher.pem.pub', 'signed by a publisher you trust?'],
      ['paddock verify pack/ --strict --json', 'in CI: fail without a trusted key; JSON'],
    ],
    exit: '0 the pack verifies, 1 it does not, 2 bad arguments or a bad keyring',
  },
  {
    name: 'steps',
    summary: 'the built-in steps: stage, where they run, what they do',
    about: "Lists the catalogue's built-in steps (what a recipe's `uses:` may name): stage, where each can run (in-process, local, container) and what it does (docs/steps.md).",
    options: [['json', 'one JSON object a line']],
    examples: [['paddock steps', 'the table'], ['paddock steps --json', 'one JSON object a line']],
  },
  {
    name: 'runs',
    summary: 'list recent runs',
    about: 'Lists the runs in the run store ($PADDOCK_HOME, default ./.paddock), newest first: id, recipe, status, host, when and how long.',
    options: [['limit', 'at most N runs (default 30)'], ['json', 'the runs as one JSON array']],
    examples: [['paddock runs', 'the last 30 runs'], ['paddock runs --limit 5 --json', 'the last 5, as JSON']],
  },
  {
    name: 'show',
    args: '<run-id>',
    summary: 'a run: steps, metrics, verdicts, approvals',
    about: "Prints what a run recorded: its models' lineage, steps, metrics, the gates' verdicts and the approvals. A run id may be any unique prefix.",
    options: [['json', 'everything as one JSON object']],
    examples: [
      ['paddock show r-20261202-135349', 'the run, as text'],
      ['paddock show r-2026 --json', 'the run starting r-2026 (if only one does), as JSON'],
    ],
  },
  {
    name: 'failures',
    args: '<run-id>',
    summary: "list a run's failures with their frame paths",
    about: "Lists a run's failures (evaluation and simulation), most important first, with the path of each failure's full-size frame: over SSH, where the workbench draws only a thumbnail, open or copy that file.",
    options: [['slice', "only this slice's failures (e.g. night+rain)"], ['kind', 'only failures of this kind (e.g. false-positive)'], ['json', 'the failures as JSON']],
    examples: [
      ['paddock failures r-20261202-135349', 'every failure, with its frame path'],
      ['paddock failures r-2026 --slice night+rain --kind false-positive', 'night-and-rain false positives'],
    ],
  },
  {
    name: 'registry list',
    summary: 'the models in the registry, where their aliases point, how many versions',
    about: 'Lists every model of the registry with its version count, its latest version and where staging, candidate, production and rollback point.',
    options: [REGISTRY, ['json', 'the models as one JSON object']],
    examples: [['paddock registry list', 'the models of <home>/registry.db'], ['paddock registry list --registry postgres://paddock@db/registry --json', "a team's registry, as JSON"]],
    exit: REGISTRY_EXIT,
  },
  {
    name: 'registry show',
    args: '<model> [<version>]',
    summary: "a model's versions, or one entry: pointers, summary, approvals",
    about: "Without a version: a model's versions, newest first, with the aliases at each. With one: the entry in full: its immutable pointers (pack manifest and file digests, serving image, commit, dataset, runs), the summary copied from its reports, its approvals (with a policy, where production's stand) and its promotion attempts.",
    options: [REGISTRY, ['policy', 'judge the production approvals under this policy (default: $PADDOCK_REGISTRY_POLICY, else <home>/registry-policy.yaml when there)'], ['json', 'everything as one JSON object']],
    examples: [['paddock registry show world-detector', 'the versions, newest first'], ['paddock registry show world-detector 1.1.0', 'one entry: pointers, digests, approvals, promotions']],
    exit: REGISTRY_EXIT,
  },
  {
    name: 'registry history',
    args: '<model>',
    summary: "every move of a model's aliases: when, who, from, to, why",
    about: "Every recorded move of a model's aliases, oldest first: when, which alias, from which version to which, the action (assign, promote, rollback, clear), who and why.",
    options: ['alias', REGISTRY, ['json', 'the moves as one JSON object']],
    examples: [['paddock registry history world-detector --alias production', 'who pointed production at what, when and why']],
    exit: REGISTRY_EXIT,
  },
  {
    name: 'registry approve',
    args: '<model> <version>',
    summary: 'sign and record your approval (or rejection) of a version by role',
    about: "Signs your decision on an entry with your key (an OpenSSH private key: ssh-keygen -Y sign; a PEM P-256 key: the pack's ECDSA scheme), checks it as the policy would (your key, your role) and records it. One the policy would not count is refused, not stored.",
    options: ['role', ['reason', 'why you decide so (signed with the decision)'], 'stage', 'reject', ['key', 'your private key (default: $PADDOCK_APPROVER_KEY, else ~/.ssh/id_ed25519)'], 'as', 'policy', REGISTRY, ['json', 'the approval and where the stage stands, as JSON']],
    required: ['role', 'reason'],
    examples: [
      ['paddock registry approve world-detector 1.1.0 --role safety --reason "sim gates green"', 'approve as safety, signed with ~/.ssh/id_ed25519'],
      ['paddock registry approve world-detector 1.1.0 --role product --reject --reason "wait for the Q3 release" --key me.pem', 'a rejection, signed with a PEM key (ecdsa)'],
    ],
    exit: REGISTRY_EXIT,
  },
  {
    name: 'registry waive',
    args: '<model> <finding>',
    summary: 'accept a scan finding until a date, with why and by whom',
    about: 'Records a waiver of a governance finding (a vulnerability id, license:<id>, scan:<name>) for a model, or one version of it: the governance checks then let it pass until it expires. An expiry already past is refused.',
    options: ['justification', 'approver', 'expires', 'for-version', REGISTRY, ['json', 'the waiver as JSON']],
    required: ['justification', 'approver', 'expires'],
    examples: [['paddock registry waive world-detector CVE-2099-0001 --justification "not reachable: CLI only" --approver carol@example.com --expires 2026-09-30', 'waived for every version through 30 September']],
    exit: REGISTRY_EXIT,
  },
  {
    name: 'promote',
    args: '<model> <version>',
    summary: 'move production to a version by hand: governance and approvals checked',
    about: "Promotes a version outside a pipeline: it needs a passing governance report for this entry (--governance, or --pack to run the checks here) and every role the policy requires for production. Production moves by compare-and-swap against what it was read as (or --expect); the one before becomes rollback. A refusal is recorded.",
    options: [['reason', 'why it goes to production (recorded)'], 'governance', 'pack', 'policy', 'expect', REGISTRY, ['json', 'the outcome as JSON']],
    required: ['reason'],
    examples: [
      ['paddock promote world-detector 1.1.0 --reason "canary green" --governance build/promote/governance/governance_report.json', "with the pipeline's governance report"],
      ['paddock promote world-detector 1.1.0 --reason "hotfix" --pack build/packs/world-detector/1.1.0 --expect 1.0.0', 'checks run here; refused if production is no longer 1.0.0'],
    ],
    exit: REGISTRY_EXIT,
  },
  {
    name: 'rollback',
    args: '<model>',
    summary: 'production back to the version the last promotion replaced, one step',
    about: 'Moves production back to the rollback version (the production the last promotion replaced) and clears rollback, in one recorded step. Runs no hooks unless --hooks names them. Nothing to roll back to is refused, saying why.',
    options: [['reason', 'why production goes back (recorded)'], 'hooks', REGISTRY, ['json', 'the outcome as JSON']],
    required: ['reason'],
    examples: [['paddock rollback world-detector --reason "false braking up in the fleet"', 'production goes back one version']],
    exit: REGISTRY_EXIT,
  },
  {
    name: 'audit verify',
    summary: "check the registry's audit chain: links, signatures, rows",
    about: "Checks the registry's hash-chained, signed audit trail: every record's hash and link, its signature by a trusted key, every table row against its record, and that the chain still reaches the head verified last time (kept in <home>/audit-head.json). Each problem names the record.",
    options: [['key', "the registry's audit public key (PEM); repeatable (default: the policy's audit_keys, else this machine's own audit key)"], ['policy', 'the policy whose audit_keys to trust'], REGISTRY, ['json', 'the result as one JSON object']],
    examples: [['paddock audit verify', 'with the policy\'s audit keys'], ['paddock audit verify --key registry-audit.pub.pem --registry postgres://paddock@db/registry', "a team's registry, against its key"]],
    exit: '0 the trail verifies, 1 it does not (each problem printed), 2 a bad argument or input',
  },
  {
    name: 'audit query',
    args: '["<SQL>"]',
    summary: 'SQL over the registry, the run store and Parquet reports',
    about: 'Runs SQL (DuckDB) over the registry (schema registry: models, entries, transitions, approvals, waivers, promotions, audit), the run store (schema store) and Parquet reports (schema reports), or a canned query. Prints a table, one block per row when it is wider than 80 columns.',
    options: ['canned', 'parquet', REGISTRY, ['json', 'the rows as one JSON array of objects']],
    examples: [
      ['paddock audit query --canned who-approved-what', 'every approval: who, role, decision, when'],
      ['paddock audit query "SELECT finding, approver FROM waivers" --json', 'your own SQL, as JSON'],
    ],
    exit: REGISTRY_EXIT,
  },
  {
    name: 'world build',
    summary: "render the built-in world's datasets",
    about: "Renders the built-in world (docs/world.md): the golden splits with their manifests, and drives for replay. Deterministic: the same bytes on every machine (its content digest says so).",
    options: [['out', 'where to write it (default build/world)'], 'tiny', ['json', 'the summary as one JSON object']],
    examples: [
      ['paddock world build', 'the full world into build/world'],
      ['paddock world build --tiny --out /tmp/world', 'a tiny one, for a quick try'],
    ],
  },
  {
    name: 'eval coco',
    summary: "COCO bbox metrics, pycocotools's numbers",
    about: 'Computes COCO bounding-box metrics (AP, AP50, AP75, by size, AR) of a results file against annotations, with the same numbers as pycocotools (docs/coco.md).',
    options: [['gt', 'the ground truth: a COCO annotations JSON'], ['dt', 'the detections: a COCO results JSON'], ['json', 'the metrics as one JSON object']],
    required: ['gt', 'dt'],
    examples: [
      ['paddock eval coco --gt gt.json --dt dt.json', "the 12 numbers of pycocotools's summary"],
      ['paddock eval coco --gt gt.json --dt dt.json --json', 'the same, as JSON'],
    ],
  },
  {
    name: 'eval tracking',
    summary: "MOT metrics (HOTA, CLEAR, IDF1), TrackEval's numbers",
    about: "Computes multi-object tracking metrics of a tracker's MOTChallenge results against MOTChallenge ground truth, with the same numbers as TrackEval (HOTA, DetA, AssA, MOTA, MOTP, IDF1, IDSW, Frag, MT/PT/ML), plus the nuScenes TID and LGD (docs/evaluate.md, Tracking metrics). The frame count is seqLength from the seqinfo.ini beside gt.txt, or --frames.",
    options: [['gt', 'the ground truth: a MOTChallenge gt.txt'], 'tracker', ['frames', 'the number of frames (default: seqLength of seqinfo.ini beside --gt)'], ['json', 'every metric as one JSON object']],
    required: ['gt', 'tracker'],
    examples: [
      ['paddock eval tracking --gt MOT17-02/gt/gt.txt --tracker results/MOT17-02.txt', 'the summary table'],
      ['paddock eval tracking --gt gt.txt --tracker t.txt --frames 600 --json', 'all of CLEAR, Identity, HOTA, Count and TID/LGD as JSON'],
    ],
  },
  {
    name: 'infer',
    summary: 'run a model over a manifest, by its inference contract',
    about: "Runs a model over a manifest's frames with ONNX Runtime, with the pre- and post-processing its inference contract (inference_config.json) describes, and writes COCO results.",
    options: [['model', 'a model directory: model.onnx and inference_config.json'], ['manifest', 'the frames: a manifest, JSON lines'], ['out', 'the COCO results JSON to write', 'FILE'], ['limit', 'only the first N frames'], ['json', 'the summary as one JSON object']],
    required: ['model', 'manifest', 'out'],
    examples: [
      ['paddock infer --model models/candidate --manifest golden_test.jsonl --out dt.json', 'the candidate on the frames of golden_test.jsonl'],
      ['paddock infer --model models/candidate --manifest m.jsonl --out dt.json --limit 50', 'on the first 50 frames only'],
    ],
  },
  {
    name: 'ui',
    args: '[<run-id>]',
    summary: 'the workbench on the run store: runs, steps, latency, slices, failures, gates',
    about: 'Opens the workbench (docs/workbench.md) on the run store, to look at past runs, triage failures and read gate records; with a run id, on that run. Needs a terminal; press ? in it for every key.',
    options: [],
    examples: [['paddock ui', 'the runs'], ['paddock ui r-20261202-135349', 'that run']],
  },
  {
    name: 'hosts',
    summary: 'Docker hosts: reachable, version, images, GPUs',
    about: 'Checks every Docker host of the hosts file (docs/hosts.md): reachable, its Docker version, whether paddock\'s step image is there, its GPUs.',
    options: ['hosts', ['json', 'the hosts as one JSON object']],
    examples: [['paddock hosts', 'every host of the hosts file'], ['paddock hosts --hosts lab.yaml --json', 'those of lab.yaml, as JSON']],
    exit: '0 every host answered, 1 one did not, 2 a bad hosts file',
  },
  {
    name: 'images build',
    summary: "build paddock's step image on a host",
    about: "Builds paddock's step image (what built-in steps run in, in containers) on a Docker host of the hosts file, or on the local engine.",
    options: [['host', 'the host to build on (a name from hosts.yaml; "docker" is the local engine)'], 'hosts'],
    examples: [['paddock images build --host gpu1', 'on the host gpu1']],
  },
];

/** The command `words` name ("world", "world build"), or undefined. */
export function findCommand(words: readonly string[]): CommandHelp | undefined {
  if (words.length === 0) return undefined;
  const full = words.slice(0, 2).join(' ');
  return COMMANDS.find((c) => c.name === full) ?? COMMANDS.find((c) => c.name.split(' ')[0] === words[0]);
}

/** The options `command` accepts, its own and the global ones. */
export function commandOptions(command: CommandHelp): OptionName[] {
  return [...command.options.map(optionName), ...GLOBAL_OPTIONS];
}

function optionName(o: CommandOption): OptionName {
  return typeof o === 'string' ? o : o[0];
}

/** `--limit N`: the option with its value's placeholder (the command's own, else the shared one). */
function optionFlag(name: OptionName, o?: CommandOption): string {
  const spec: OptionSpec = OPTIONS[name];
  const arg = (typeof o === 'string' ? undefined : o?.[2]) ?? spec.arg;
  return `--${name}${arg ? ` ${arg}` : ''}`;
}

const WIDTH = 80;

/** `text` broken into lines of at most `width` columns, at spaces (a longer word stays whole). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** The usage line, wrapped before an option that would pass `width`: "paddock run <recipe.yaml> [--headless] ...". */
export function usageLines(command: CommandHelp, indent: string, width = WIDTH): string[] {
  const parts = [
    `paddock ${command.name}${command.args ? ` ${command.args}` : ''}`,
    ...command.options.map((o) => {
      const name = optionName(o);
      const flag = optionFlag(name, o);
      if (command.required?.includes(name)) return flag;
      return (OPTIONS[name] as OptionSpec).multiple ? `[${flag}]...` : `[${flag}]`;
    }),
  ];
  const lines: string[] = [];
  let line = indent + parts[0];
  for (const p of parts.slice(1)) {
    if (line.length + 1 + p.length > width) {
      lines.push(line);
      line = `${indent}    ${p}`;
    } else line += ` ${p}`;
  }
  lines.push(line);
  return lines;
}

/** Rows of a two-column list: the left column padded to `left`, the right one wrapped. */
function table(rows: readonly (readonly [string, string])[], left: number, indent = '  '): string[] {
  const out: string[] = [];
  for (const [k, v] of rows) {
    const text = wrap(v, WIDTH - indent.length - left);
    if (k.length >= left) {
      out.push(indent + k);
      for (const t of text) out.push(indent + ' '.repeat(left) + t);
    } else {
      text.forEach((t, i) => out.push(indent + (i === 0 ? k.padEnd(left) : ' '.repeat(left)) + t));
    }
  }
  return out;
}

/** `paddock <command> --help`: its usage, what it does, its options, 1-3 examples and its exit status; every line within 80 columns. */
export function commandHelp(command: CommandHelp): string {
  // "Usage: " goes before the first line and 3 spaces before the others: the lines are laid out that much narrower.
  const usage = usageLines(command, '', WIDTH - 'Usage: '.length);
  const out = [`Usage: ${usage[0]}`, ...usage.slice(1).map((l) => `   ${l}`), '', ...wrap(command.about, WIDTH), ''];
  const opts = [...command.options, 'debug', 'help'] as CommandOption[];
  out.push('Options:');
  out.push(...table(opts.map((o) => {
    const name = optionName(o);
    const flag = name === 'help' ? '-h, --help' : optionFlag(name, o);
    return [flag, typeof o === 'string' ? OPTIONS[name].text : o[1]] as const;
  }), 18));
  out.push('', 'Examples:');
  for (const [cmd, what] of command.examples) {
    out.push(...wrap(cmd, WIDTH - 4).map((l, i) => (i === 0 ? `  ${l}` : `      ${l}`)));
    out.push(...wrap(what, WIDTH - 6).map((l) => `      ${l}`));
  }
  out.push('', ...wrap(`Exit status: ${command.exit ?? '0 ok, 2 an error (a bad argument or input)'}.`, WIDTH));
  return `${out.join('\n')}\n`;
}

/** `paddock --help`: every command's usage and summary, the common options, the environment, the exit status. */
export function globalHelp(): string {
  const out = ['paddock - take a perception model from candidate to production', '', 'Usage:'];
  for (const c of COMMANDS) {
    out.push(...usageLines(c, '  '));
    out.push(...wrap(c.summary, WIDTH - 10).map((l) => `          ${l}`));
  }
  out.push(
    '',
    '"paddock help <command>" or "paddock <command> --help": options, examples.',
    '',
    'Common options:',
    ...table([
      ['--headless', OPTIONS.headless.text],
      ['--json', 'JSON on stdout (for run, demo, package and resume: NDJSON events)'],
      ['--debug', OPTIONS.debug.text],
      ['-h, --help', 'this help; with a command, that command\'s'],
      ['--version', OPTIONS.version.text],
    ], 18),
    '',
    'Environment:',
    ...table([
      ['PADDOCK_HOME', 'the run store (default ./.paddock)'],
      ['PADDOCK_HOSTS', 'the hosts file'],
      ['PADDOCK_TRUSTED_KEYS', "a keyring file of the publishers' public keys that verify trusts"],
      ['PADDOCK_REGISTRY', 'the model registry (a SQLite file or postgres:// URL)'],
      ['PADDOCK_REGISTRY_POLICY', 'the registry policy file'],
      ['PADDOCK_APPROVER_KEY', 'your signing key for registry approve'],
      ['PADDOCK_DEMO_DIR', "where the demo writes its world, pack, keys and evaluation (default: the checkout's build/; installed: ~/.cache/paddock/demo)"],
      ['NO_COLOR', 'a monochrome workbench'],
    ], 22),
    '',
    'Exit status: 0 ok, 1 a gate failed or was rejected, 2 an error.',
    'Docs: docs/ (usage.md; events.md: the event protocol every step speaks).',
  );
  return `${out.join('\n')}\n`;
}

/**
 * The candidate closest to `word` by edit distance (a swap of two neighbours counts one), when
 * it is close enough to be a typo: at most 1 edit for words up to 4 characters, 2 up to 8, 3
 * beyond; else a candidate that `word` begins (at least 3 characters, and only one does).
 *   didYouMean('gate-polcy', ['gate-policy', 'junit']) -> 'gate-policy'
 */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  const limit = word.length <= 4 ? 1 : word.length <= 8 ? 2 : 3;
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  if (best !== undefined && bestD <= limit && bestD < Math.max(word.length, best.length)) return best;
  const starting = word.length >= 3 ? candidates.filter((c) => c.startsWith(word)) : [];
  return starting.length === 1 ? starting[0] : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours, 1 each. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The top-level command words, for "did you mean". */
export function commandWords(): string[] {
  return [...new Set([...COMMANDS.map((c) => c.name.split(' ')[0]), 'help'])];
}

/** A token of parseArgs({ tokens: true }) that is an option. */
export interface OptionToken {
  name: string;
  rawName: string;
  value?: string;
  inlineValue?: boolean;
}

/**
 * What is wrong with the options given to `command` (undefined: the whole command line, no
 * command yet), as one message, or undefined when nothing is:
 *   unknown option --gate-polcy; did you mean --gate-policy?
 *   --limit is not an option of paddock show (its options: --json)
 *   --limit needs a value: --limit N
 */
export function checkOptions(command: CommandHelp | undefined, tokens: readonly OptionToken[]): string | undefined {
  const allowed = command ? commandOptions(command) : (Object.keys(OPTIONS) as OptionName[]);
  for (const t of tokens) {
    const known = Object.hasOwn(OPTIONS, t.name) && (t.rawName.startsWith('--') || t.rawName === `-${(OPTIONS[t.name as OptionName] as OptionSpec).short}`);
    if (!known) {
      const bare = t.rawName.replace(/^-+/, '');
      const guess = didYouMean(bare, allowed) ?? (command ? undefined : didYouMean(bare, Object.keys(OPTIONS)));
      const elsewhere = command && !guess ? didYouMean(bare, Object.keys(OPTIONS)) : undefined;
      return `unknown option ${t.rawName}${guess ? `; did you mean --${guess}?` : elsewhere ? `; --${elsewhere} is not an option of paddock ${command!.name} either` : ''}`;
    }
    const name = t.name as OptionName;
    if (!allowed.includes(name)) {
      const own = command!.options.map((o) => `--${optionName(o)}`);
      return `--${name} is not an option of paddock ${command!.name} (${own.length ? `its options: ${own.join(', ')}` : 'it takes none'})`;
    }
    const spec: OptionSpec = OPTIONS[name];
    if (spec.type === 'string' && (t.value === undefined || (!t.inlineValue && t.value.startsWith('-')))) {
      return `${t.rawName} needs a value: ${optionFlag(name, command?.options.find((o) => optionName(o) === name))}${t.value !== undefined ? ` (not the option ${t.value}; a value that starts with "-" goes as ${t.rawName}=${t.value})` : ''}`;
    }
    if (spec.type === 'boolean' && t.inlineValue) return `${t.rawName} takes no value (not ${t.rawName}=${t.value})`;
  }
  return undefined;
}
