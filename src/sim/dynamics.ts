/**
 * The ego's vehicle dynamics in the closed loop: a kinematic bicycle for the path and a
 * first-order actuator lag for the longitudinal acceleration, with acceleration and jerk
 * limits, as ADAS proxy simulations model a car between the planner and the road
 * (Rajamani, "Vehicle Dynamics and Control", 2.2 and 5.3).
 *
 * - Longitudinal: the acceleration relaxes toward the (clamped) command with time constant
 *   `accel_lag_s`, discretised exactly (a step of dt moves it 1 - e^(-dt/tau) of the way), then
 *   its change per step is held to `max_jerk`. It is the actuators' acceleration: at standstill a
 *   negative value is the brake held, the speed stays 0 (no reversing), and the acceleration
 *   releases at the jerk limit like any other change, so the jerk limit holds at a stop too.
 * - Path: the bicycle's rear axle follows an exact arc of radius wheelbase / tan(steer) over each
 *   step (the steer rate-limited toward its command, held over the step); the pose is the box's
 *   centre, half a wheelbase ahead of the rear axle.
 *
 * Within a step the acceleration is constant, so distances are exact for a constant acceleration.
 */
import { z } from 'zod';

/** The ego's vehicle, as a recipe's sim step names it (snake_case), with defaults of a mid-size car. */
export const VehicleParams = z
  .object({
    /** Axle to axle, metres. */
    wheelbase: z.number().positive().default(2.8),
    /** Time constant of the first-order lag from commanded to actual acceleration, seconds (0: none). */
    accel_lag_s: z.number().nonnegative().default(0.3),
    /** Most the drivetrain can accelerate, m/s^2. */
    max_accel: z.number().positive().default(3),
    /** Most the brakes can decelerate (about 1 g on dry asphalt), m/s^2, positive. */
    max_decel: z.number().positive().default(9.8),
    /** Most the actual acceleration may change per second, m/s^3. */
    max_jerk: z.number().positive().default(15),
    /** Road-wheel steering angle limit, radians (35 degrees). */
    max_steer: z.number().positive().max(1.5).default(0.61),
    /** Road-wheel steering rate limit, radians per second. */
    max_steer_rate: z.number().positive().default(0.7),
  })
  .strict();
export type VehicleParams = z.infer<typeof VehicleParams>;

/** The ego's state: the box centre's pose, speed along the heading (m/s, >= 0), the actuators' acceleration and the road-wheel steer. */
export interface VehicleState {
  x: number;
  y: number;
  heading: number;
  speed: number;
  accel: number;
  steer: number;
}

/** What the planner asks for: an acceleration (m/s^2, negative brakes) and a road-wheel steer (radians, left +). */
export interface VehicleCommand {
  accel: number;
  steer: number;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** The state dt seconds on under the command; pure. */
export function stepVehicle(s: VehicleState, cmd: VehicleCommand, dt: number, p: VehicleParams): VehicleState {
  const target = clamp(cmd.accel, -p.max_decel, p.max_accel);
  const lagged = p.accel_lag_s > 0 ? s.accel + (target - s.accel) * -Math.expm1(-dt / p.accel_lag_s) : target;
  const jerkStep = p.max_jerk * dt;
  const accel = clamp(s.accel + clamp(lagged - s.accel, -jerkStep, jerkStep), -p.max_decel, p.max_accel);

  let speed = s.speed + accel * dt;
  let ds: number;
  if (speed >= 0) ds = s.speed * dt + 0.5 * accel * dt * dt;
  else {
    // Stops inside the step: it travels v^2 / 2|a| and stays there.
    ds = (s.speed * s.speed) / (-2 * accel);
    speed = 0;
  }

  const steerStep = p.max_steer_rate * dt;
  const steer = clamp(s.steer + clamp(clamp(cmd.steer, -p.max_steer, p.max_steer) - s.steer, -steerStep, steerStep), -p.max_steer, p.max_steer);

  const half = p.wheelbase / 2;
  const rx = s.x - half * Math.cos(s.heading);
  const ry = s.y - half * Math.sin(s.heading);
  const dh = (ds * Math.tan(steer)) / p.wheelbase;
  let nx: number;
  let ny: number;
  if (Math.abs(dh) < 1e-9) {
    // Straight (or nearly): the chord of the arc is the step's distance along the mean heading.
    nx = rx + ds * Math.cos(s.heading + dh / 2);
    ny = ry + ds * Math.sin(s.heading + dh / 2);
  } else {
    const r = p.wheelbase / Math.tan(steer);
    nx = rx + r * (Math.sin(s.heading + dh) - Math.sin(s.heading));
    ny = ry - r * (Math.cos(s.heading + dh) - Math.cos(s.heading));
  }
  const heading = s.heading + dh;
  return { x: nx + half * Math.cos(heading), y: ny + half * Math.sin(heading), heading, speed, accel, steer };
}
