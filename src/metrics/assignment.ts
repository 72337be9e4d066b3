/**
 * The rectangular linear sum assignment with scipy.optimize.linear_sum_assignment's semantics,
 * down to its tie-breaking. TrackEval (CLEAR, Identity, HOTA) and the replay tracker call scipy's
 * solver on score matrices full of ties (zeros, equal IoUs, the CLEAR +1000 bonus); which of the
 * equally good assignments comes back decides IDSW and Frag counts, so "an optimal assignment" is
 * not enough: it has to be the one scipy returns.
 *
 * The algorithm is the shortest augmenting path method of Crouse (2016, "On implementing 2D
 * rectangular assignment algorithms", IEEE TAES 52(4)), as scipy's rectangular_lsap implements
 * it: one augmenting path per row in row order, with Dijkstra over the reduced costs; the
 * unvisited columns are scanned in descending index order and, among equally short columns, an
 * unassigned one (a sink) wins, which is what fixes scipy's answer on ties (a constant matrix
 * gives the identity). A tall matrix is solved transposed and the pairs sorted back by row.
 */

export interface AssignmentOptions {
  /** Maximise the total instead of minimising it (scipy's `maximize=True`: the costs negated). */
  maximize?: boolean;
}

export interface Assignment {
  /** Row indices of the assigned pairs, ascending (scipy's `row_ind`). */
  rowInd: Int32Array;
  /** The column assigned to each rowInd entry (scipy's `col_ind`). */
  colInd: Int32Array;
}

/**
 * Solve min (or max) sum cost[r, c] over a matching of min(rows, cols) pairs.
 * `cost` is row-major, rows x cols. Throws on NaN or -Infinity entries (+Infinity with maximize)
 * and when no finite assignment exists, as scipy raises ValueError.
 */
export function linearSumAssignment(
  cost: Float64Array | ArrayLike<number>,
  rows: number,
  cols: number,
  opts: AssignmentOptions = {},
): Assignment {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new RangeError(`linearSumAssignment: rows and cols must be non-negative integers, got ${rows} x ${cols}`);
  }
  if (cost.length !== rows * cols) {
    throw new RangeError(`linearSumAssignment: cost has ${cost.length} entries, expected ${rows} x ${cols} = ${rows * cols}`);
  }
  if (rows === 0 || cols === 0) return { rowInd: new Int32Array(0), colInd: new Int32Array(0) };

  const transpose = cols < rows;
  const nr = transpose ? cols : rows;
  const nc = transpose ? rows : cols;
  const sign = opts.maximize ? -1 : 1;
  const c = new Float64Array(nr * nc);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const value = sign * cost[i * cols + j];
      if (Number.isNaN(value) || value === -Infinity) {
        throw new RangeError(`linearSumAssignment: invalid cost entry ${cost[i * cols + j]} at row ${i}, column ${j}`);
      }
      c[transpose ? j * nc + i : i * nc + j] = value;
    }
  }

  const u = new Float64Array(nr);
  const v = new Float64Array(nc);
  const shortest = new Float64Array(nc);
  const path = new Int32Array(nc).fill(-1);
  const col4row = new Int32Array(nr).fill(-1);
  const row4col = new Int32Array(nc).fill(-1);
  const SR = new Uint8Array(nr);
  const SC = new Uint8Array(nc);
  const remaining = new Int32Array(nc);

  for (let curRow = 0; curRow < nr; curRow++) {
    let minVal = 0;
    let numRemaining = nc;
    for (let it = 0; it < nc; it++) remaining[it] = nc - it - 1;
    SR.fill(0);
    SC.fill(0);
    shortest.fill(Infinity);

    let i = curRow;
    let sink = -1;
    while (sink === -1) {
      let index = -1;
      let lowest = Infinity;
      SR[i] = 1;
      const base = i * nc;
      for (let it = 0; it < numRemaining; it++) {
        const j = remaining[it];
        const r = minVal + c[base + j] - u[i] - v[j];
        if (r < shortest[j]) {
          path[j] = i;
          shortest[j] = r;
        }
        if (shortest[j] < lowest || (shortest[j] === lowest && row4col[j] === -1)) {
          lowest = shortest[j];
          index = it;
        }
      }
      minVal = lowest;
      if (minVal === Infinity) {
        throw new RangeError('linearSumAssignment: cost matrix is infeasible');
      }
      const j = remaining[index];
      if (row4col[j] === -1) sink = j;
      else i = row4col[j];
      SC[j] = 1;
      remaining[index] = remaining[--numRemaining];
    }

    u[curRow] += minVal;
    for (let r = 0; r < nr; r++) {
      if (SR[r] && r !== curRow) u[r] += minVal - shortest[col4row[r]];
    }
    for (let j = 0; j < nc; j++) {
      if (SC[j]) v[j] -= minVal - shortest[j];
    }

    let j = sink;
    for (;;) {
      const r = path[j];
      row4col[j] = r;
      const previous = col4row[r];
      col4row[r] = j;
      j = previous;
      if (r === curRow) break;
    }
  }

  const rowInd = new Int32Array(nr);
  const colInd = new Int32Array(nr);
  if (transpose) {
    // Pairs (col4row[k], k) in the original orientation, sorted by the original row.
    const order = Array.from({ length: nr }, (_, k) => k).sort((a, b) => col4row[a] - col4row[b]);
    order.forEach((k, n) => {
      rowInd[n] = col4row[k];
      colInd[n] = k;
    });
  } else {
    for (let r = 0; r < nr; r++) {
      rowInd[r] = r;
      colInd[r] = col4row[r];
    }
  }
  return { rowInd, colInd };
}
