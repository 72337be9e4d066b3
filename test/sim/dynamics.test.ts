/**
 * src/sim/dynamics.ts against closed forms: distance under constant acceleration, the first-order
 * lag's 1 - e^(-t/tau), stopping distance (at steady full braking, and from coasting with the
 * jerk-limited ramp then the lag, integrated by hand), the bicycle's circle of radius
 * L / tan(delta), and the jerk, acceleration and steer-rate limits under random commands.
 */
import { describe, expect, it } from 'vitest';
import { VehicleParams, stepVehicle, type VehicleState } from '../../src/sim/dynamics.js';
import { seededRandom } from '../../src/files/prng.js';

const P = VehicleParams.parse({});
const at = (o: Partial<VehicleState>): VehicleState => ({ x: 0, y: 0, heading: 0, speed: 0, accel: 0, steer: 0, ...o });

function drive(s: VehicleState, cmd: { accel: number; steer: number }, dt: number, steps: number, p = P): VehicleState[] {
  const out = [s];
  for (let i = 0; i < steps; i++) out.push(stepVehicle(out[out.length - 1], cmd, dt, p));
  return out;
}

describe('VehicleParams', () => {
  it('defaults of a mid-size car; unknown keys refused', () => {
    expect(P).toEqual({ wheelbase: 2.8, accel_lag_s: 0.3, max_accel: 3, max_decel: 9.8, max_jerk: 15, max_steer: 0.61, max_steer_rate: 0.7 });
    expect(() => VehicleParams.parse({ wheelbse: 3 })).toThrow();
  });
});

describe('longitudinal', () => {
  it('constant acceleration: x = v0 t + a t^2 / 2, v = v0 + a t', () => {
    const end = drive(at({ speed: 5, accel: 2 }), { accel: 2, steer: 0 }, 0.05, 100).at(-1)!;
    expect(end.x).toBeCloseTo(5 * 5 + 0.5 * 2 * 25, 9);
    expect(end.speed).toBeCloseTo(15, 9);
    expect(end.y).toBe(0);
  });

  it('first-order lag: a(t) = a_cmd (1 - e^(-t/tau)) while the jerk limit does not bite', () => {
    // Initial jerk a_cmd / tau = 1 / 0.3 = 3.3 m/s^3, under 15.
    const dt = 0.01;
    const states = drive(at({ speed: 10 }), { accel: 1, steer: 0 }, dt, 300);
    states.forEach((s, i) => expect(s.accel).toBeCloseTo(1 - Math.exp(-(i * dt) / 0.3), 12));
  });

  it('stopping distance at steady full braking: v^2 / 2a, then it stays stopped', () => {
    const states = drive(at({ speed: 20, accel: -9.8 }), { accel: -20, steer: 0 }, 0.1, 40);
    const end = states.at(-1)!;
    expect(end.x).toBeCloseTo(400 / (2 * 9.8), 9);
    expect(end.speed).toBe(0);
    expect(states.every((s) => s.speed >= 0)).toBe(true);
  });

  it('stopping distance from coasting: a jerk-limited ramp, then the lag, integrated by hand', () => {
    // Phase 1: the lag asks (9.8 - |a|) / 0.3 m/s^3, over 15 until |a| = 9.8 - 4.5 = 5.3: a = -15 t to t1 = 5.3 / 15.
    // Phase 2: a = -9.8 + 4.5 e^(-s/0.3); v and x by integrating it; the stop where v = 0 by bisection.
    const v0 = 20;
    const t1 = 5.3 / 15;
    const v1 = v0 - 7.5 * t1 * t1;
    const x1 = v0 * t1 - 2.5 * t1 ** 3;
    const A = 9.8;
    const B = 4.5;
    const tau = 0.3;
    const v = (s: number) => v1 - A * s + B * tau * (1 - Math.exp(-s / tau));
    const x = (s: number) => x1 + v1 * s - (A * s * s) / 2 + B * tau * s - B * tau * tau * (1 - Math.exp(-s / tau));
    let lo = 0;
    let hi = 10;
    for (let i = 0; i < 200; i++) {
      const m = (lo + hi) / 2;
      if (v(m) > 0) lo = m;
      else hi = m;
    }
    const expected = x(lo);
    expect(expected).toBeGreaterThan(400 / 19.6 + 3); // the ramp costs metres
    const dt = 0.0005;
    const end = drive(at({ speed: v0 }), { accel: -9.8, steer: 0 }, dt, 12000).at(-1)!;
    expect(end.speed).toBe(0);
    // The model holds each step's acceleration over the step: O(dt) from the continuous integral.
    expect(Math.abs(end.x - expected)).toBeLessThan(0.01);
  });
});

describe('lateral: kinematic bicycle', () => {
  it('at constant steer the rear axle runs on a circle of radius L / tan(delta), the centre on sqrt(R^2 + (L/2)^2)', () => {
    const delta = 0.2;
    const R = 2.8 / Math.tan(delta);
    const s0 = at({ speed: 10, steer: delta });
    const states = drive(s0, { accel: 0, steer: delta }, 0.05, 200);
    const rear = (s: VehicleState) => [s.x - 1.4 * Math.cos(s.heading), s.y - 1.4 * Math.sin(s.heading)];
    // Turning left from heading 0 with the rear axle at (-1.4, 0): the circle's centre is (-1.4, R).
    for (const s of states) {
      const [rx, ry] = rear(s);
      expect(Math.hypot(rx + 1.4, ry - R)).toBeCloseTo(R, 9);
      expect(Math.hypot(s.x + 1.4, s.y - R)).toBeCloseTo(Math.sqrt(R * R + 1.4 * 1.4), 9);
    }
    // Heading rate v tan(delta) / L: after 10 s, 100 m of arc, heading 100 / R.
    expect(states.at(-1)!.heading).toBeCloseTo(100 / R, 9);
  });
});

describe('limits', () => {
  it('jerk, acceleration and steer rate never above their limits under random commands; speed never negative', () => {
    const r = seededRandom(3);
    const dt = 0.05;
    let s = at({ speed: 8 });
    for (let i = 0; i < 4000; i++) {
      const cmd = { accel: (r() - 0.5) * 30, steer: (r() - 0.5) * 2 };
      const n = stepVehicle(s, cmd, dt, P);
      expect(Math.abs(n.accel - s.accel) / dt).toBeLessThanOrEqual(15 + 1e-9);
      expect(n.accel).toBeGreaterThanOrEqual(-9.8);
      expect(n.accel).toBeLessThanOrEqual(3);
      expect(Math.abs(n.steer - s.steer) / dt).toBeLessThanOrEqual(0.7 + 1e-9);
      expect(Math.abs(n.steer)).toBeLessThanOrEqual(0.61 + 1e-12);
      expect(n.speed).toBeGreaterThanOrEqual(0);
      s = n;
    }
  });
});
