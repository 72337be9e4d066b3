/**
 * Post-promotion hooks against real parts: webhooks POSTed to a real HTTP server on loopback
 * (node:http) that checks the MLflow-style signature as a receiver would; the data-mining
 * request read back through its schema; the schedule's OnCalendar cross-checked with the real
 * `systemd-analyze calendar`, its units with `systemd-analyze verify`, its cron command run by
 * a real sh; and all hooks together on a temporary directory.
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  checkOnCalendar,
  dataMiningRequest,
  DELIVERY_ID_HEADER,
  deliverWebhook,
  findProgram,
  nextElapse,
  parseOnCalendar,
  runPostPromotionHooks,
  SIGNATURE_HEADER,
  signWebhook,
  TIMESTAMP_HEADER,
  verifyWebhookSignature,
  webhookPayload,
  writeSchedule,
  type PromotionEvent,
} from '../../src/registry/hooks.js';
import { DataMiningConfig, DataMiningRequest, PostPromotionHooks, ScheduleConfig, WebhookConfig } from '../../src/schema/hooks.js';
import { tempDir } from '../helpers/fixtures.js';

const SECRET = 'whsec-test-7f3a9c1e5b';
const AT = Date.UTC(2026, 11, 3, 10, 0, 0);

const event: PromotionEvent = {
  event: 'model_version.promoted',
  model: 'world-detector',
  version: '2.1.0',
  previous: '2.0.0',
  promotionId: 'prom-0001',
  actor: 'alice@example.com',
  at: AT,
  releaseNotes: { uri: 's3://packs/world-detector/2.1.0/RELEASE_NOTES.md', sha256: 'd'.repeat(64) },
  canary: {
    decision: 'promote',
    step: 4,
    clusters: [
      { slice: 'night', conditions: { time: 'night', weather: 'clear' }, count: 12, frames: ['d1:101', 'd1:102', 'd1:140', 'd2:7'], kind: 'missed' },
      { slice: 'rain', conditions: { weather: 'rain' }, count: 30, frames: [5, 6, 7, 8, 9, 10] },
      { slice: 'fog', conditions: { weather: 'fog' }, count: 1, frames: [77] },
      { slice: 'night', conditions: { time: 'night', weather: 'rain' }, count: 12, frames: ['d3:1'] },
    ],
  },
};

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/** A receiver on 127.0.0.1:0; `respond` decides each request's answer (status, or 'hang' to never answer). */
async function receiver(respond: (n: number, r: Received) => number | 'hang' | { status: number; headers: Record<string, string> }): Promise<{ url: string; got: Received[]; server: Server; close: () => Promise<void> }> {
  const got: Received[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      got.push(r);
      const a = respond(got.length, r);
      if (a === 'hang') return;
      const { status, headers } = typeof a === 'number' ? { status: a, headers: {} } : a;
      res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(status >= 300 ? `status ${status} from the test receiver` : 'ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/paddock`,
    got,
    server,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const open: { close: () => Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

const hook = (url: string, extra: Partial<WebhookConfig> = {}) => WebhookConfig.parse({ name: 'ci', url, secret_env: 'PADDOCK_TEST_WEBHOOK_SECRET', backoff_ms: 20, ...extra });
const env = { ...process.env, PADDOCK_TEST_WEBHOOK_SECRET: SECRET };

describe('webhooks', () => {
  it("sign as MLflow does: the receiver verifies the signature over the raw body; a wrong secret, a changed body or an old timestamp fail", async () => {
    const rx = await receiver((_n, r) => (verifyWebhookSignature({ secret: SECRET, body: r.body, headers: r.headers }).ok ? 200 : 401));
    open.push(rx);
    const payload = webhookPayload(event);
    const out = await deliverWebhook(hook(rx.url), payload, { env });
    expect(out).toMatchObject({ hook: 'webhook:ci', status: 'ok', attempts: [{ attempt: 1, status: 200 }] });
    expect(rx.got).toHaveLength(1);
    const { headers, body } = rx.got[0];
    expect(body).toBe(payload);
    expect(JSON.parse(body)).toMatchObject({ entity: 'model_version', action: 'promoted', data: { name: 'world-detector', version: '2.1.0', alias: 'production', previous_version: '2.0.0' } });
    const sig = headers[SIGNATURE_HEADER.toLowerCase()] as string;
    const id = headers[DELIVERY_ID_HEADER.toLowerCase()] as string;
    const ts = headers[TIMESTAMP_HEADER.toLowerCase()] as string;
    expect(id).toBe(out.delivery_id);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(ts).toMatch(/^\d{10}$/);
    expect(sig).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    // The signed content is "<delivery_id>.<timestamp>.<payload>" (mlflow/webhooks/delivery.py _generate_hmac_signature).
    expect(sig).toBe(`v1,${createHmac('sha256', SECRET).update(`${id}.${ts}.${body}`).digest('base64')}`);
    expect(verifyWebhookSignature({ secret: 'another-secret', body, headers })).toEqual({ ok: false, reason: 'signature does not match' });
    expect(verifyWebhookSignature({ secret: SECRET, body: body.replace('2.1.0', '2.1.1'), headers }).ok).toBe(false);
    expect(verifyWebhookSignature({ secret: SECRET, body, headers, now: (Number(ts) + 301) * 1000 })).toMatchObject({ ok: false, reason: expect.stringMatching(/outside ±300 s/) });
    // A second signature (secret rotation) is tried too.
    expect(verifyWebhookSignature({ secret: SECRET, body, headers: { ...headers, [SIGNATURE_HEADER]: `v1,AAAA ${sig}` } }).ok).toBe(true);
    expect(verifyWebhookSignature({ secret: SECRET, body, headers: { 'content-type': 'application/json' } })).toMatchObject({ ok: false, reason: expect.stringMatching(/missing X-MLflow-Delivery-Id, X-MLflow-Timestamp, X-MLflow-Signature/) });
    // The secret is in no outcome.
    expect(JSON.stringify(out)).not.toContain(SECRET);
  });

  it('retries a 500 with backoff, resending the same bytes, id and signature, then succeeds', async () => {
    const when: number[] = [];
    const rx = await receiver((n) => (when.push(performance.now()), n <= 2 ? 500 : 200));
    open.push(rx);
    const out = await deliverWebhook(hook(rx.url, { max_retries: 3, backoff_ms: 40 }), webhookPayload(event), { env });
    expect(out.status).toBe('ok');
    expect(out.attempts!.map((a) => a.status)).toEqual([500, 500, 200]);
    expect(out.detail).toMatch(/200 after 3 attempts, signed/);
    expect(new Set(rx.got.map((r) => `${r.headers['x-mlflow-delivery-id']} ${r.headers['x-mlflow-signature']} ${r.body}`)).size).toBe(1);
    // Backoff 40 ms then 80 ms (exponential).
    expect(when[1] - when[0]).toBeGreaterThanOrEqual(38);
    expect(when[2] - when[1]).toBeGreaterThanOrEqual(78);
  });

  it('gives up after the retries, recording each 503; a 400 is not retried; Retry-After is honoured within the cap', async () => {
    const rx = await receiver(() => ({ status: 503, headers: { 'retry-after': '3600' } }));
    open.push(rx);
    const t0 = performance.now();
    const out = await deliverWebhook(hook(rx.url, { max_retries: 2, backoff_max_ms: 30 }), '{}', { env });
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(out).toMatchObject({ status: 'failed', attempts: [{ status: 503 }, { status: 503 }, { status: 503 }] });
    expect(out.detail).toMatch(/: 503 \(status 503 from the test receiver\) after 3 attempts$/);

    const bad = await receiver(() => 400);
    open.push(bad);
    const o2 = await deliverWebhook(hook(bad.url), '{}', { env });
    expect(o2).toMatchObject({ status: 'failed', attempts: [{ attempt: 1, status: 400 }] });
    expect(o2.detail).toMatch(/400 .* after 1 attempt; not retried/);
    expect(bad.got).toHaveLength(1);
  });

  it('a receiver that never answers is a failed delivery, each attempt timed out', async () => {
    const rx = await receiver(() => 'hang');
    open.push(rx);
    const t0 = performance.now();
    const out = await deliverWebhook(hook(rx.url, { timeout_ms: 250, max_retries: 1 }), '{}', { env });
    const took = performance.now() - t0;
    expect(out.status).toBe('failed');
    expect(out.attempts).toHaveLength(2);
    for (const a of out.attempts!) {
      expect(a.error).toBe('timed out after 250 ms');
      expect(a.ms).toBeGreaterThanOrEqual(240);
    }
    expect(out.detail).toMatch(/timed out after 250 ms \(attempt 2 of 2, the last\)/);
    expect(took).toBeLessThan(3000);
    expect(rx.got).toHaveLength(2);
  });

  it('a connection refused is retried and recorded; a missing secret sends nothing', async () => {
    const rx = await receiver(() => 200);
    const url = rx.url;
    await rx.close();
    const out = await deliverWebhook(hook(url, { max_retries: 1 }), '{}', { env });
    expect(out).toMatchObject({ status: 'failed', attempts: [{ error: expect.stringMatching(/ECONNREFUSED/) }, { error: expect.stringMatching(/ECONNREFUSED/) }] });

    const rx2 = await receiver(() => 200);
    open.push(rx2);
    const o2 = await deliverWebhook(hook(rx2.url), '{}', { env: { PATH: process.env.PATH } });
    expect(o2).toEqual({ hook: 'webhook:ci', status: 'failed', detail: "the secret's environment variable PADDOCK_TEST_WEBHOOK_SECRET is not set; not sent unsigned" });
    expect(rx2.got).toHaveLength(0);
  });

  it('the signature matches a vector computed with Python (MLflow computes it with hmac + base64)', () => {
    // python3 -c "import hmac,hashlib,base64; print(base64.b64encode(hmac.new(b'secret', b'id.1700000000.{}', hashlib.sha256).digest()).decode())"
    expect(signWebhook('secret', 'id', '1700000000', '{}')).toBe('v1,GBemBzTgbKoVEGKycqyY3615LbdJbhFLE1oQk+zZ+lo=');
  });
});

describe('data-mining request', () => {
  it('ranks the canary error clusters by count, lists the largest with example frames, counts the rest', () => {
    const req = dataMiningRequest(DataMiningConfig.parse({ requests_dir: 'r', max_clusters: 2, examples_per_cluster: 2, min_count: 2 }), event);
    expect(DataMiningRequest.parse(req)).toEqual(req);
    expect(req.clusters.map((c) => [c.rank, c.slice, c.conditions, c.count, c.example_frames])).toEqual([
      [1, 'rain', { weather: 'rain' }, 30, [5, 6]],
      [2, 'night', { time: 'night', weather: 'clear' }, 12, ['d1:101', 'd1:102']],
    ]);
    // fog (1 error) is under min_count; the second night cluster is counted, not listed.
    expect(req.totals).toEqual({ errors: 54, clusters: 3, clusters_left_out: 1 });
    expect(req.clusters[0].share).toBeCloseTo(30 / 54, 12);
    expect(req.clusters[1].kind).toBe('missed');
    expect(req).toMatchObject({ format: 'paddock.data_mining_request/1', id: 'world-detector-2.1.0-20261203T100000Z', created_at: '2026-12-03T10:00:00Z', canary: { decision: 'promote', step: 4 } });
  });
});

describe('schedule: OnCalendar, timer, service, cron', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeAll(() => {
    tmp = tempDir();
  });
  afterAll(() => tmp.cleanup());

  it('systemd-analyze is on this machine (the cross-checks below need it)', () => {
    expect(findProgram('systemd-analyze'), 'setup: systemd-analyze (Debian package systemd) is not on PATH; the OnCalendar cross-check needs it').toBeDefined();
  });

  const table: [string, string, string, number][] = [
    // expression, systemd's normalized form, cron time fields, next elapse after Tue 2026-12-01 00:00:00 UTC
    ['Mon *-*-* 03:00:00', 'Mon *-*-* 03:00:00', '0 3 * * 1', Date.UTC(2026, 11, 7, 3, 0)],
    ['weekly', 'Mon *-*-* 00:00:00', '0 0 * * 1', Date.UTC(2026, 11, 7, 0, 0)],
    ['daily', '*-*-* 00:00:00', '0 0 * * *', Date.UTC(2026, 11, 2, 0, 0)],
    ['mon,thu *-*-* 3:05', 'Mon,Thu *-*-* 03:05:00', '5 3 * * 1,4', Date.UTC(2026, 11, 3, 3, 5)],
    ['Monday..Wednesday 23:59', 'Mon..Wed *-*-* 23:59:00', '59 23 * * 1-3', Date.UTC(2026, 11, 1, 23, 59)],
    ['Sat,Mon..Tue *-*-* 00:00', 'Mon,Tue,Sat *-*-* 00:00:00', '0 0 * * 1-2,6', Date.UTC(2026, 11, 5, 0, 0)],
    ['Fri..Sun *-*-* 12:30:00', 'Fri..Sun *-*-* 12:30:00', '30 12 * * 0,5-6', Date.UTC(2026, 11, 4, 12, 30)],
    ['Tue *-*-* 00:00:00', 'Tue *-*-* 00:00:00', '0 0 * * 2', Date.UTC(2026, 11, 8, 0, 0)],
    ['Mon..Sun 06:00', '*-*-* 06:00:00', '0 6 * * *', Date.UTC(2026, 11, 1, 6, 0)],
  ];
  const BASE = Date.UTC(2026, 11, 1, 0, 0, 0);

  it.each(table)('%s: our reading agrees with systemd-analyze calendar (normalized form and next elapse)', async (expr, normalized, cron, next) => {
    const spec = parseOnCalendar(expr);
    expect(spec.normalized).toBe(normalized);
    expect(spec.cron).toBe(cron);
    expect(nextElapse(spec, BASE)).toBe(next);
    // checkOnCalendar runs the real systemd-analyze and refuses any disagreement with the above.
    const c = await checkOnCalendar(expr, BASE);
    expect(c).toMatchObject({ checkedBy: 'systemd-analyze', next: new Date(next).toISOString().replace('.000Z', 'Z') });
  });

  it.each([
    ['Mon *-*-* 03:00:30', /seconds must be 00/],
    ['2026-12-* 03:00', /other systemd calendar forms have no cron line/],
    ['Fri..Mon 01:00', /runs backwards/],
    ['Mon *-*-* 25:00', /not a time of day/],
    ['Mun 03:00', /"Mun" is not a weekday/],
  ])('refuses %s', async (expr, re) => {
    await expect(checkOnCalendar(expr, BASE)).rejects.toThrow(re);
  });

  it('without systemd-analyze on PATH, our parser alone checks it, and says so', async () => {
    const c = await checkOnCalendar('Mon *-*-* 03:00:00', BASE, { PATH: '/nonexistent' });
    expect(c.checkedBy).toBe('paddock parser');
  });

  it('writes the timer, the service and the cron line; systemd-analyze verify accepts the units; sh runs the cron command with its arguments intact', async () => {
    const dir = join(tmp.dir, 'sched');
    const argsOut = join(tmp.dir, 'args.json');
    const script = `require('fs').writeFileSync(${JSON.stringify(argsOut)}, JSON.stringify(process.argv.slice(1)))`;
    const cfg = ScheduleConfig.parse({ dir: 'sched', on_calendar: 'mon 3:00', command: [process.execPath, '-e', script, "it's 100% $HOME", 'a "b"'], working_directory: '.' });
    const out = await writeSchedule(cfg, event, { baseDir: tmp.dir, now: () => BASE });
    expect(out.status, out.detail).toBe('ok');
    expect(out.detail).toBe('OnCalendar=Mon *-*-* 03:00:00 (checked by systemd-analyze), cron "0 3 * * 1"; next run 2026-12-07T03:00:00Z; units checked with systemd-analyze verify');
    const timer = readFileSync(join(dir, 'paddock-weekly-evaluation.timer'), 'utf8');
    expect(timer).toContain('\n[Timer]\nOnCalendar=Mon *-*-* 03:00:00\nPersistent=true\nUnit=paddock-weekly-evaluation.service\n');
    const service = readFileSync(join(dir, 'paddock-weekly-evaluation.service'), 'utf8');
    expect(service).toContain(`\nType=oneshot\nWorkingDirectory=${tmp.dir}\nExecStart=${process.execPath} -e `);
    expect(service).toContain('"it\'s 100%% $$HOME"');
    const cronLine = readFileSync(join(dir, 'paddock-weekly-evaluation.cron'), 'utf8').split('\n').find((l) => /^\d/.test(l))!;
    expect(cronLine.startsWith(`0 3 * * 1 cd ${tmp.dir} && `)).toBe(true);
    // What cron does before handing the command to sh (crontab(5)): "\%" becomes "%".
    const command = cronLine.split(' ').slice(5).join(' ').replace(/\\%/g, '%');
    const r = await execa('sh', ['-c', command], { reject: false, env: { HOME: '/home/nobody', PATH: process.env.PATH } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(argsOut, 'utf8'))).toEqual(["it's 100% $HOME", 'a "b"']);
  });

  it('units systemd-analyze verify refuses (a program that is not there) are a failed hook', async () => {
    const cfg = ScheduleConfig.parse({ dir: 'sched-bad', command: ['/nonexistent/paddock', 'run'] });
    const out = await writeSchedule(cfg, event, { baseDir: tmp.dir, now: () => BASE });
    expect(out.status).toBe('failed');
    expect(out.detail).toMatch(/systemd-analyze verify refused the units: .*\/nonexistent\/paddock is not executable/);
  });

  it('a bare program name not installed on this machine (the units are for the machine that runs them) is checked with /bin/true in its place, and the detail says so', async () => {
    const cfg = ScheduleConfig.parse({ dir: 'sched-elsewhere', command: ['paddock-not-installed-here', 'run', 'paddock.yaml'] });
    const out = await writeSchedule(cfg, event, { baseDir: tmp.dir, now: () => BASE });
    expect(out.status, out.detail).toBe('ok');
    expect(out.detail).toMatch(/units checked with systemd-analyze verify \(paddock-not-installed-here is not on this machine's PATH: checked with \/bin\/true in its place\)$/);
    // The written unit keeps the program as given.
    expect(readFileSync(join(tmp.dir, 'sched-elsewhere', 'paddock-weekly-evaluation.service'), 'utf8')).toContain('\nExecStart=paddock-not-installed-here run paddock.yaml\n');
  });
});

describe('all hooks after a promotion', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeAll(() => {
    tmp = tempDir();
  });
  afterAll(() => tmp.cleanup());

  it('runs each configured hook and reports ok / failed / skipped per hook; a rollback skips the promotion-only ones', async () => {
    // The hooks' clock is AT (the delivery's timestamp header too), so the receiver checks freshness against AT.
    const rx = await receiver((_n, r) => (verifyWebhookSignature({ secret: SECRET, body: r.body, headers: r.headers, now: AT }).ok ? 204 : 401));
    open.push(rx);
    const runs = join(tmp.dir, 'work', 'runs');
    for (const [i, age] of [30, 20, 1].entries()) {
      mkdirSync(join(runs, `r${i}`), { recursive: true });
      const f = join(runs, `r${i}`, 'engine.plan');
      writeFileSync(f, Buffer.alloc(1000 * (i + 1)));
      const t = (AT - age * 86_400_000) / 1000;
      utimesSync(f, t, t);
      utimesSync(join(runs, `r${i}`), t, t);
    }
    const cfg = PostPromotionHooks.parse({
      webhooks: [
        { name: 'ci', url: rx.url, secret_env: 'PADDOCK_TEST_WEBHOOK_SECRET' },
        { name: 'pager', url: rx.url, secret_env: 'PADDOCK_TEST_WEBHOOK_SECRET', events: ['model_version.rolled_back'] },
        { name: 'nosecret', url: rx.url, secret_env: 'PADDOCK_TEST_NOT_SET' },
      ],
      data_mining: { requests_dir: 'requests' },
      schedule: { dir: 'schedule', command: [process.execPath, '--version'] },
      retention: { root: 'work', rules: [{ dir: 'runs', older_than_days: 7, keep_last: 1, action: 'delete' }], dry_run: true },
    });
    const ctx = { baseDir: tmp.dir, env, now: () => AT };
    const out = await runPostPromotionHooks(cfg, event, ctx);
    expect(out.map((o) => [o.hook, o.status])).toEqual([
      ['webhook:ci', 'ok'],
      ['webhook:pager', 'skipped'],
      ['webhook:nosecret', 'failed'],
      ['data-mining', 'ok'],
      ['schedule', 'ok'],
      ['retention', 'ok'],
    ]);
    expect(out[0].detail).toMatch(/: 204 after 1 attempt, signed$/);
    expect(out[5].detail).toBe(`dry run: would archive 0 (0 B) and delete 2 (2.9 KiB) under ${join(tmp.dir, 'work')}; 1 kept`);
    const req = DataMiningRequest.parse(JSON.parse(readFileSync(out[3].files![0], 'utf8')));
    expect(req.clusters[0].slice).toBe('rain');
    expect(JSON.stringify(out)).not.toContain(SECRET);

    const back = await runPostPromotionHooks(cfg, { ...event, event: 'model_version.rolled_back' }, ctx);
    expect(back.map((o) => [o.hook, o.status])).toEqual([
      ['webhook:ci', 'skipped'],
      ['webhook:pager', 'ok'],
      ['webhook:nosecret', 'skipped'],
      ['data-mining', 'skipped'],
      ['schedule', 'skipped'],
      ['retention', 'ok'],
    ]);
    expect(JSON.parse(rx.got[rx.got.length - 1].body).action).toBe('rolled_back');
  });
});
