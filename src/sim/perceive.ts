/**
 * From the tracker's confirmed image boxes to what the planner reasons about (PerceivedObject):
 * a monocular camera's range and lateral offset under the flat-ground assumption, as production
 * ADAS cameras without radar estimate them (Stein, Mano and Shashua, "Vision-based ACC with a
 * single camera: bounds on range and range rate accuracy", IEEE IV 2003).
 *
 * - Range: an object's box bottom is where its near face meets the road, so with the pinhole of
 *   src/world/scene.ts CAMERA (no pitch, height h) its distance is z = fy h / (v_bottom - cy).
 *   The camera is on the ego's front face (src/sim/world-view.ts), so z is the planner's range.
 * - Lateral: the box centre's column at that distance, x = (u - cx) z / fx, left + is -x.
 * - Rates: the slope of a least-squares line through the track's last samples (a short window),
 *   which smooths the pixel quantisation of a far box's bottom without lagging much.
 *
 * A worse detector finds the object later, boxes it worse and keeps its tracks less steadily:
 * all three reach the planner through here, which is why it brakes later.
 */
import { CAMERA } from '../world/scene.js';
import type { BoxXYWH, TrackBox } from '../replay/types.js';
import type { PerceivedObject } from './planner.js';
import type { SimClass } from '../schema/sim-types.js';

/** Seconds of a track's history the rate fit uses. */
export const RATE_WINDOW_S = 0.6;
/** A box whose bottom is this close to the horizon row is too far to range (z > ~600 m). */
const MIN_ROWS_BELOW_HORIZON = 0.5;

const SIM_CLASSES: ReadonlySet<string> = new Set(['car', 'pedestrian', 'cyclist']);

/** Range (m, ego front to near face) and lateral offset (m, left +) of an image box, flat ground. */
export function rangeOfBox(box: BoxXYWH): { range: number; lateral: number } | null {
  const bottom = box[1] + box[3];
  const below = bottom - CAMERA.cy;
  if (below < MIN_ROWS_BELOW_HORIZON) return null;
  const range = (CAMERA.fy * CAMERA.mountHeight) / below;
  const u = box[0] + box[2] / 2;
  return { range, lateral: -((u - CAMERA.cx) * range) / CAMERA.fx };
}

/** Slope of the least-squares line through (t, y). */
function slope(ts: readonly number[], ys: readonly number[]): number {
  const n = ts.length;
  if (n < 2) return 0;
  let mt = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mt += ts[i];
    my += ys[i];
  }
  mt /= n;
  my /= n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (ts[i] - mt) * (ys[i] - my);
    den += (ts[i] - mt) * (ts[i] - mt);
  }
  return den > 0 ? num / den : 0;
}

interface TrackHistory {
  t: number[];
  range: number[];
  lateral: number[];
  confirmedFor: number;
  lastT: number;
}

export interface Perceiver {
  /** The confirmed tracks of the frame at time t as perceived objects (ascending track id). */
  step(t: number, tracks: readonly TrackBox[]): PerceivedObject[];
}

/** A perceiver for one run: it keeps each track's short history for the rates. */
export function createPerceiver(): Perceiver {
  const history = new Map<number, TrackHistory>();
  return {
    step(t, tracks) {
      const out: PerceivedObject[] = [];
      const seen = new Set<number>();
      for (const tr of tracks) {
        if (!tr.confirmed || !SIM_CLASSES.has(tr.cls)) continue;
        const m = rangeOfBox(tr.box);
        if (!m) continue;
        seen.add(tr.id);
        let h = history.get(tr.id);
        if (!h) {
          h = { t: [], range: [], lateral: [], confirmedFor: 0, lastT: t };
          history.set(tr.id, h);
        }
        h.t.push(t);
        h.range.push(m.range);
        h.lateral.push(m.lateral);
        while (h.t.length > 1 && t - h.t[0] > RATE_WINDOW_S + 1e-9) {
          h.t.shift();
          h.range.shift();
          h.lateral.shift();
        }
        h.confirmedFor += 1;
        h.lastT = t;
        out.push({
          trackId: tr.id,
          cls: tr.cls as SimClass,
          range: m.range,
          lateral: m.lateral,
          rangeRate: slope(h.t, h.range),
          lateralRate: slope(h.t, h.lateral),
          confirmedFor: h.confirmedFor,
        });
      }
      // A track not reported this frame (coasting) counts its confirmation again from its
      // return; its samples serve the rate fit while they are inside the window.
      for (const [id, h] of [...history]) {
        if (seen.has(id)) continue;
        h.confirmedFor = 0;
        if (t - h.lastT > RATE_WINDOW_S) history.delete(id);
      }
      return out.sort((a, b) => a.trackId - b.trackId);
    },
  };
}
