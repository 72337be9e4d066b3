import { describe, expect, it } from 'vitest';
import {
  applyPixelFault,
  consumeDeliveries,
  planDelivery,
  regionPixels,
  ReplayVariant,
  stuckPixelPositions,
  type Delivery,
  type FrameTime,
  type PixelFault,
  type ReplayVariantInput,
} from '../../src/replay/stress.js';

/** 100 frames at 10 Hz, as the built-in world records them. */
const T0 = 1_700_000_000_000_000_000n;
const frames: FrameTime[] = Array.from({ length: 100 }, (_, i) => ({ index: i, captureNs: T0 + BigInt(i) * 100_000_000n }));
const W = 32;
const H = 16;

/** A frame's pixels: a pattern in 20..219 (never 0 nor 255), different per frame. */
function image(frame: number): Uint8Array {
  const out = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) out[(y * W + x) * 3 + c] = 20 + ((x * 7 + y * 13 + c * 29 + frame * 3) % 200);
  return out;
}

const variant = (v: ReplayVariantInput) => ReplayVariant.parse(v);
const nominal = planDelivery(frames, undefined);
const strip = (ds: Delivery[]) => ds.map(({ source, stampNs }) => ({ source, stampNs }));

describe('ReplayVariant schema', () => {
  it('fills defaults', () => {
    expect(variant({ kind: 'drop', name: 'd' })).toEqual({ kind: 'drop', name: 'd', seed: 0, rate: 0.1 });
    expect(variant({ kind: 'blackout', name: 'b' })).toMatchObject({ segments: [{ at_s: 2, duration_s: 1 }], noise_dn: 0 });
    expect(variant({ kind: 'occlusion', name: 'o' })).toMatchObject({ region: { x: 0.3, y: 0.35, w: 0.4, h: 0.4 }, opacity: 1 });
  });

  it.each([
    [{ kind: 'drop', name: 'd', rate: 1.5 }, 'rate'],
    [{ kind: 'drop', name: 'd', rat: 0.1 }, 'rat'],
    [{ kind: 'drop', rate: 0.1 }, 'name'],
    [{ kind: 'drop_burst', name: 'b', length_frames: 0 }, 'length_frames'],
    [{ kind: 'jitter', name: 'j', sigma_ms: -1 }, 'sigma_ms'],
    [{ kind: 'reorder', name: 'r', max_delay_frames: 1.5 }, 'max_delay_frames'],
    [{ kind: 'blackout', name: 'b', segments: [{ at_s: 1, duration_s: 0 }] }, 'segments.0.duration_s'],
    [{ kind: 'blackout', name: 'b', segments: [] }, 'segments'],
    [{ kind: 'occlusion', name: 'o', region: { x: 0.8, y: 0, w: 0.4, h: 0.5 } }, 'region.w'],
    [{ kind: 'stuck_pixels', name: 's', value: 300 }, 'value'],
    [{ kind: 'stuck_pixels', name: 's', seed: -1 }, 'seed'],
    [{ kind: 'smear', name: 's' }, 'kind'],
  ])('rejects %j naming %s', (input, field) => {
    const r = ReplayVariant.safeParse(input);
    expect(r.success).toBe(false);
    const paths = r.error!.issues.map((i) => [...i.path, ...((i as { keys?: string[] }).keys ?? [])].join('.'));
    expect(paths).toContain(field);
  });
});

describe('planDelivery: nominal', () => {
  it('is every frame once, at its capture time, in order', () => {
    expect(nominal).toEqual(frames.map((f, i) => ({ source: f.index, stampNs: f.captureNs, arrival: i })));
  });

  it('refuses frames out of capture-time order, naming the frame', () => {
    const bad = [frames[0], frames[2], frames[1]];
    expect(() => planDelivery(bad, undefined)).toThrow(/frame 1 \(position 2\)/);
  });
});

describe('planDelivery: timing variants change only which frames arrive, their stamps and order', () => {
  const timing: ReplayVariantInput[] = [
    { kind: 'drop', name: 'd', seed: 3 },
    { kind: 'drop_burst', name: 'b', seed: 3 },
    { kind: 'jitter', name: 'j', seed: 3 },
    { kind: 'reorder', name: 'r', seed: 3 },
    { kind: 'duplicate', name: 'u', seed: 3 },
  ];

  it.each(timing)('$kind: no pixel fault, arrival numbered 0.., deterministic per seed', (v) => {
    const a = planDelivery(frames, variant(v));
    expect(a.every((d) => d.fault === undefined)).toBe(true);
    expect(a.map((d) => d.arrival)).toEqual(a.map((_, i) => i));
    expect(planDelivery(frames, variant(v))).toEqual(a);
    expect(planDelivery(frames, variant({ ...v, seed: 4 }))).not.toEqual(a);
  });

  it.each([
    [0.1, 90],
    [0.25, 75],
    [0.333, 67],
    [0, 100],
  ])('drop rate %f keeps exactly %i of 100 frames, each at its own capture time, in order', (rate, kept) => {
    const d = planDelivery(frames, variant({ kind: 'drop', name: 'd', seed: 7, rate }));
    expect(d).toHaveLength(kept);
    expect(d.every((x) => x.stampNs === frames[x.source].captureNs)).toBe(true);
    expect(d.map((x) => x.source)).toEqual([...d.map((x) => x.source)].sort((a, b) => a - b));
    expect(new Set(d.map((x) => x.source)).size).toBe(kept);
  });

  it('drop_burst drops runs of length_frames starting every every_s', () => {
    const d = planDelivery(frames, variant({ kind: 'drop_burst', name: 'b', every_s: 2, length_frames: 3, start_s: 0.5 }));
    const kept = new Set(d.map((x) => x.source));
    const gone = frames.map((f) => f.index).filter((i) => !kept.has(i));
    expect(gone).toEqual([5, 6, 7, 25, 26, 27, 45, 46, 47, 65, 66, 67, 85, 86, 87]);
    expect(d.every((x) => x.stampNs === frames[x.source].captureNs)).toBe(true);
  });

  it.each([0, 1, 2, 3])('drop_burst with a seeded phase (seed %i) drops only contiguous runs of 4, 20 frames apart', (seed) => {
    const d = planDelivery(frames, variant({ kind: 'drop_burst', name: 'b', seed, every_s: 2, length_frames: 4 }));
    const kept = new Set(d.map((x) => x.source));
    const gone = frames.map((f) => f.index).filter((i) => !kept.has(i));
    const starts = gone.filter((i) => !gone.includes(i - 1));
    expect(starts[0]).toBeLessThan(20);
    starts.forEach((s, k) => {
      if (k > 0) expect(s - starts[k - 1]).toBe(20);
      const run = gone.filter((i) => i >= s && i < s + 4);
      expect(run).toEqual([s, s + 1, s + 2, s + 3].filter((i) => i < 100));
    });
    expect(gone.length).toBe(starts.reduce((n, s) => n + Math.min(4, 100 - s), 0));
  });

  it('jitter moves stamps within max_ms, sources in capture order, spread about sigma_ms', () => {
    const d = planDelivery(frames, variant({ kind: 'jitter', name: 'j', seed: 11, sigma_ms: 5, max_ms: 12 }));
    expect(d.map((x) => x.source)).toEqual(frames.map((f) => f.index));
    const errMs = d.map((x) => Number(x.stampNs - frames[x.source].captureNs) / 1e6);
    expect(Math.max(...errMs.map(Math.abs))).toBeLessThanOrEqual(12);
    expect(errMs.filter((e) => e !== 0).length).toBeGreaterThan(90);
    const std = Math.sqrt(errMs.reduce((s, e) => s + e * e, 0) / errMs.length);
    expect(std).toBeGreaterThan(3.5);
    expect(std).toBeLessThan(6.5);
  });

  it('jitter with sigma 0 is the nominal plan', () => {
    expect(planDelivery(frames, variant({ kind: 'jitter', name: 'j', sigma_ms: 0 }))).toEqual(nominal);
  });

  it('reorder changes only arrival order; the queue drops what arrived after a newer frame', () => {
    const d = planDelivery(frames, variant({ kind: 'reorder', name: 'r', seed: 5, rate: 0.2, max_delay_frames: 3 }));
    expect(d.map((x) => x.source).sort((a, b) => a - b)).toEqual(frames.map((f) => f.index));
    expect(d.every((x) => x.stampNs === frames[x.source].captureNs)).toBe(true);
    expect(d.map((x) => x.source)).not.toEqual(frames.map((f) => f.index));
    // each late frame arrives at most 3 positions after its nominal place
    d.forEach((x, pos) => expect(pos - x.source).toBeLessThanOrEqual(3));
    const q = consumeDeliveries(d);
    let newest = -1;
    const expectLate: number[] = [];
    for (const x of d) {
      if (x.source < newest) expectLate.push(x.source);
      newest = Math.max(newest, x.source);
    }
    expect(q.dropped.map((x) => x.delivery.source)).toEqual(expectLate);
    expect(q.counts).toEqual({ delivered: 100, processed: 100 - expectLate.length, late_dropped: expectLate.length, duplicates_dropped: 0 });
    expect(expectLate.length).toBeGreaterThan(10);
    for (let i = 1; i < q.processed.length; i++) expect(q.processed[i].stampNs > q.processed[i - 1].stampNs).toBe(true);
  });

  it('duplicate adds round(rate x n) copies right after their originals, with equal stamps; the queue drops exactly those', () => {
    const d = planDelivery(frames, variant({ kind: 'duplicate', name: 'u', seed: 2, rate: 0.15 }));
    expect(d).toHaveLength(115);
    const copies = d.filter((x) => x.duplicate === true);
    expect(copies).toHaveLength(15);
    d.forEach((x, i) => {
      if (x.duplicate) expect({ source: d[i - 1].source, stampNs: d[i - 1].stampNs }).toEqual({ source: x.source, stampNs: x.stampNs });
    });
    expect(strip(d.filter((x) => !x.duplicate))).toEqual(strip(nominal));
    const q = consumeDeliveries(d);
    expect(q.counts).toEqual({ delivered: 115, processed: 100, late_dropped: 0, duplicates_dropped: 15 });
    expect(q.dropped.every((x) => x.delivery.duplicate === true && x.reason === 'duplicate')).toBe(true);
    expect(strip(q.processed)).toEqual(strip(nominal));
  });
});

describe('consumeDeliveries', () => {
  it('takes arrival order, not list order, and drops a stamp that jumped back as late', () => {
    const d: Delivery[] = [
      { source: 1, stampNs: 200n, arrival: 1 },
      { source: 0, stampNs: 100n, arrival: 0 },
      { source: 2, stampNs: 150n, arrival: 2 },
      { source: 3, stampNs: 400n, arrival: 3 },
    ];
    const q = consumeDeliveries(d);
    expect(q.processed.map((x) => x.source)).toEqual([0, 1, 3]);
    expect(q.dropped).toEqual([{ delivery: d[2], reason: 'late' }]);
  });

  it('is the identity on the nominal plan', () => {
    expect(consumeDeliveries(nominal)).toEqual({ processed: nominal, dropped: [], counts: { delivered: 100, processed: 100, late_dropped: 0, duplicates_dropped: 0 } });
  });
});

describe('pixel faults: the nominal delivery list, faults only on frames in their segments', () => {
  const kinds: ReplayVariantInput[] = [
    { kind: 'blackout', name: 'b' },
    { kind: 'frozen', name: 'f' },
    { kind: 'occlusion', name: 'o' },
    { kind: 'stuck_pixels', name: 's' },
  ];

  it.each(kinds)('$kind: frames 20..29 (2 s for 1 s) carry the fault, the rest nothing', (v) => {
    const d = planDelivery(frames, variant(v));
    expect(strip(d)).toEqual(strip(nominal));
    expect(d.map((x) => x.arrival)).toEqual(nominal.map((x) => x.arrival));
    expect(d.filter((x) => x.fault !== undefined).map((x) => x.source)).toEqual([20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
    for (const x of d) if (x.fault) expect(x.fault).toMatchObject({ kind: v.kind, variant: v.name, segment: 0, onsetSource: 20 });
  });

  it('numbers several segments and points a frozen one at the last good frame (the first frame when it starts the drive)', () => {
    const d = planDelivery(frames, variant({ kind: 'frozen', name: 'f', segments: [{ at_s: 0, duration_s: 0.3 }, { at_s: 5, duration_s: 0.2 }] }));
    const faulted = d.filter((x) => x.fault).map((x) => [x.source, x.fault!.segment, (x.fault as Extract<PixelFault, { kind: 'frozen' }>).frozenSource]);
    expect(faulted).toEqual([
      [0, 0, 0],
      [1, 0, 0],
      [2, 0, 0],
      [50, 1, 49],
      [51, 1, 49],
    ]);
  });

  const faultOf = (v: ReplayVariantInput) => planDelivery(frames, variant(v)).find((x) => x.fault)!.fault!;

  it('blackout: all zeros, input untouched', () => {
    const rgb = image(22);
    const before = rgb.slice();
    const out = applyPixelFault(rgb, W, H, faultOf({ kind: 'blackout', name: 'b' }), { source: 22 });
    expect(out.every((v) => v === 0)).toBe(true);
    expect(rgb).toEqual(before);
  });

  it('blackout with a noise floor: dark, seeded per frame, deterministic', () => {
    const f = faultOf({ kind: 'blackout', name: 'b', noise_dn: 4, seed: 9 });
    const a = applyPixelFault(image(22), W, H, f, { source: 22 });
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean).toBeGreaterThan(2.5); // E|N(0, 4)| = 4 sqrt(2/pi) = 3.19
    expect(mean).toBeLessThan(4);
    expect(applyPixelFault(image(5), W, H, f, { source: 22 })).toEqual(a);
    expect(applyPixelFault(image(22), W, H, f, { source: 23 })).not.toEqual(a);
  });

  it('frozen: the last good frame repeated; refuses without it', () => {
    const f = faultOf({ kind: 'frozen', name: 'f' });
    expect(f).toMatchObject({ frozenSource: 19 });
    const frozenRgb = image(19);
    const out = applyPixelFault(image(24), W, H, f, { frozenRgb });
    expect(out).toEqual(frozenRgb);
    expect(out).not.toBe(frozenRgb);
    expect(() => applyPixelFault(image(24), W, H, f)).toThrow(/frozenRgb.*frame 19/);
  });

  it.each([1, 0.5])('occlusion at opacity %f: inside the region the blend, outside byte-equal', (opacity) => {
    const region = { x: 0.25, y: 0.5, w: 0.5, h: 0.25 };
    const f = faultOf({ kind: 'occlusion', name: 'o', region, opacity, color: [10, 20, 30] });
    const rgb = image(21);
    const out = applyPixelFault(rgb, W, H, f);
    const { x0, x1, y0, y1 } = regionPixels(region, W, H);
    expect([x0, x1, y0, y1]).toEqual([8, 24, 8, 12]);
    let inside = 0;
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) {
      const p = (y * W + x) * 3 + c;
      if (x >= x0 && x < x1 && y >= y0 && y < y1) {
        inside++;
        expect(out[p]).toBe(Math.round((1 - opacity) * rgb[p] + opacity * [10, 20, 30][c]));
      } else expect(out[p]).toBe(rgb[p]);
    }
    expect(inside).toBe(16 * 4 * 3);
  });

  it.each([
    [50, 255, 1],
    [1, 0, 2],
    [500, 255, 3],
  ])('stuck_pixels: exactly %i pixels differ, stuck at %i, at positions fixed across frames (seed %i)', (count, value, seed) => {
    const f = faultOf({ kind: 'stuck_pixels', name: 's', count, value, seed });
    const changed = (frame: number) => {
      const rgb = image(frame);
      const out = applyPixelFault(rgb, W, H, f);
      const px: number[] = [];
      for (let i = 0; i < W * H; i++) {
        const differs = [0, 1, 2].some((c) => out[i * 3 + c] !== rgb[i * 3 + c]);
        if (differs) {
          px.push(i);
          expect([out[i * 3], out[i * 3 + 1], out[i * 3 + 2]]).toEqual([value, value, value]);
        }
      }
      return px;
    };
    const a = changed(20);
    expect(a).toHaveLength(count);
    expect(changed(27)).toEqual(a);
    expect(a).toEqual(stuckPixelPositions(W, H, count, seed));
    expect(stuckPixelPositions(W, H, count, seed + 100)).not.toEqual(a);
  });

  it('refuses a buffer of the wrong size and more stuck pixels than the image has, saying which', () => {
    const f = faultOf({ kind: 'stuck_pixels', name: 's', count: W * H + 1 });
    expect(() => applyPixelFault(new Uint8Array(10), W, H, f)).toThrow(/10 bytes, expected 32x16x3 = 1536/);
    expect(() => applyPixelFault(image(0), W, H, f)).toThrow(/count 513 .* 512 pixels/);
  });
});
