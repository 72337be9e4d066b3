"""Triton Python-backend model: CenterNet decoding from paddock's inference contract (3x3 peaks
on the class heatmaps, top-k, size and offset at each peak, back through the letterbox,
class-wise greedy NMS, the detection cap). Outputs "detections" [max_detections, 6] rows of
x, y, w, h, score, class (zero rows after the last) and "num_detections".
The pure function `decode` is importable without Triton (paddock's tests call it).
"""
import json
import os

import numpy as np


def _iou(a, b):
    iw = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    ih = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def decode(heatmap, size, offset, letterbox, contract):
    """heatmap CxHxW, size and offset 2xHxW for one image; letterbox as preprocess returns it."""
    stride = contract["decode"]["stride"]
    C, h, w = heatmap.shape
    padded = np.pad(heatmap, ((0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    peak = np.ones_like(heatmap, dtype=bool)
    for dy in range(3):
        for dx in range(3):
            peak &= heatmap >= padded[:, dy:dy + h, dx:dx + w]
    scores = np.where(peak, heatmap, 0).reshape(-1)
    k = contract["decode"]["top_k"]
    order = np.argsort(-scores, kind="stable")[:k]
    sx, sy, px, py, W, H = letterbox.tolist()
    dets = []
    for idx in order:
        s = float(scores[idx])
        if s < contract["score_threshold"]:
            break
        c, rem = divmod(int(idx), h * w)
        y, x = divmod(rem, w)
        cx = (x + offset[0, y, x]) * stride
        cy = (y + offset[1, y, x]) * stride
        bw = np.exp(size[0, y, x]) * stride
        bh = np.exp(size[1, y, x]) * stride
        x0 = max(0.0, (cx - bw / 2 - px) / sx)
        y0 = max(0.0, (cy - bh / 2 - py) / sy)
        x1 = min(W, (cx + bw / 2 - px) / sx)
        y1 = min(H, (cy + bh / 2 - py) / sy)
        if x1 > x0 and y1 > y0:
            dets.append([x0, y0, x1 - x0, y1 - y0, s, c])
    kept = []
    for d in dets:
        if all(k_[5] != d[5] or _iou(k_, d) <= contract["nms_iou"] for k_ in kept):
            kept.append(d)
    kept = kept[:contract["max_detections"]]
    out = np.zeros((contract["max_detections"], 6), dtype=np.float32)
    if kept:
        out[:len(kept)] = np.array(kept, dtype=np.float32)
    return out, len(kept)


class TritonPythonModel:
    def initialize(self, args):
        with open(os.path.join(args["model_repository"], "contract.json")) as f:
            self.contract = json.load(f)

    def execute(self, requests):
        import triton_python_backend_utils as pb_utils
        responses = []
        for request in requests:
            get = lambda n: pb_utils.get_input_tensor_by_name(request, n).as_numpy()  # noqa: E731
            hm, sz, off, lb = get("heatmap"), get("size"), get("offset"), get("letterbox")
            outs = [decode(hm[i], sz[i], off[i], lb[i], self.contract) for i in range(hm.shape[0])]
            responses.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("detections", np.stack([o[0] for o in outs])),
                pb_utils.Tensor("num_detections", np.array([[o[1]] for o in outs], dtype=np.int32)),
            ]))
        return responses
