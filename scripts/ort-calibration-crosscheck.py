#!/usr/bin/env python3
"""Cross-checks paddock's INT8 activation ranges against onnxruntime's own calibrators
(onnxruntime.quantization, where a machine has it: the lent GPU machine does, this one does not).

    python3 scripts/ort-calibration-crosscheck.py <model.onnx> <frames dir> <paddock amax json> > out.json

The frames are the calibration shard paddock used (PNG, the world's size), pre-processed as the
inference contract says ((p / 255 - 0.4) / 0.25, NCHW). onnxruntime's MinMax, Percentile (99.99,
symmetric) and Entropy calibrators run over them; for every tensor paddock calibrated, the amax of
each side is printed with their ratio.
"""
import glob
import json
import os
import sys
import tempfile

import numpy as np
import onnxruntime
from onnxruntime.quantization.calibrate import CalibrationDataReader, CalibrationMethod, create_calibrator

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "world"))
from train_detector import read_png  # noqa: E402

model, frames_dir, ours_file = sys.argv[1:4]
ours = json.load(open(ours_file))
frames = sorted(glob.glob(os.path.join(frames_dir, "*.png")))
batch = np.stack([((read_png(f).astype(np.float32) / 255.0 - 0.4) / 0.25).transpose(2, 0, 1) for f in frames])


class Reader(CalibrationDataReader):
    def __init__(self):
        # Equal batches: onnxruntime stacks the per-batch outputs of its MinMax calibrator.
        self.items = iter([{"images": batch[i:i + 4]} for i in range(0, len(batch) - len(batch) % 4, 4)])

    def get_next(self):
        return next(self.items, None)


import hashlib  # noqa: E402
out = {"onnxruntime": onnxruntime.__version__, "frames": {os.path.basename(f): hashlib.sha256(open(f, "rb").read()).hexdigest() for f in frames}, "tensors": {}}
for method, extra in ((CalibrationMethod.MinMax, {}), (CalibrationMethod.Percentile, {"percentile": 99.99, "symmetric": True, "num_bins": 2048}), (CalibrationMethod.Entropy, {"num_bins": 2048, "num_quantized_bins": 128, "symmetric": True})):
    with tempfile.TemporaryDirectory() as tmp:
        cal = create_calibrator(model, ["Conv"], augmented_model_path=os.path.join(tmp, "aug.onnx"), calibrate_method=method, extra_options=extra)
        cal.collect_data(Reader())
        ranges = cal.compute_data()
    name = {CalibrationMethod.MinMax: "max", CalibrationMethod.Percentile: "percentile", CalibrationMethod.Entropy: "entropy"}[method]
    for t, mine in ours.items():
        if t not in ranges.data:
            continue
        r = ranges.data[t]
        pair = r.range_value if hasattr(r, "range_value") else r
        lo, hi = (float(np.asarray(v).reshape(-1)[0]) for v in pair[:2])
        amax = max(abs(lo), abs(hi))
        e = out["tensors"].setdefault(t, {})
        e[name] = {"onnxruntime": amax, "paddock": mine[name], "ratio": mine[name] / amax if amax else None}
# onnxruntime prints its progress on stdout: the JSON goes after a marker line.
sys.stdout.write("--- paddock cross-check ---\n")
json.dump(out, sys.stdout, indent=1)
sys.stdout.write("\n")
