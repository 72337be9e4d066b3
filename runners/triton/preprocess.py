"""Triton Python-backend model: pre-processing from paddock's inference contract (contract.json
beside config.pbtxt). Input "image": uint8 HxWx3 RGB (any size); outputs the model input
(float32 3xHxW: letterbox with nearest-neighbour resampling, scale, mean, std, channel order) and
"letterbox" [scale_x, scale_y, pad_x, pad_y, width, height] for post-processing.
The pure function `preprocess` is importable without Triton (paddock's tests call it).
"""
import json
import os

import numpy as np


def preprocess(image, contract):
    inp = contract["input"]
    W, H = inp["resize"]["width"], inp["resize"]["height"]
    h, w = image.shape[:2]
    if inp["resize"]["mode"] == "letterbox":
        s = min(W / w, H / h)
        sx = sy = s
    else:
        sx, sy = W / w, H / h
    nw, nh = int(round(w * sx)), int(round(h * sy))
    px = (W - nw) // 2 if inp["resize"]["mode"] == "letterbox" else 0
    py = (H - nh) // 2 if inp["resize"]["mode"] == "letterbox" else 0
    canvas = np.full((H, W, 3), inp["resize"]["pad_value"], dtype=np.float32)
    ys = np.minimum((np.arange(nh) / sy).astype(np.int64), h - 1)
    xs = np.minimum((np.arange(nw) / sx).astype(np.int64), w - 1)
    canvas[py:py + nh, px:px + nw] = image[ys][:, xs].astype(np.float32)
    if inp["color"] == "BGR":
        canvas = canvas[:, :, ::-1]
    x = (canvas * inp["scale"] - np.array(inp["mean"], dtype=np.float32)) / np.array(inp["std"], dtype=np.float32)
    return x.transpose(2, 0, 1).astype(np.float32), np.array([sx, sy, px, py, w, h], dtype=np.float32)


class TritonPythonModel:
    def initialize(self, args):
        with open(os.path.join(args["model_repository"], "contract.json")) as f:
            self.contract = json.load(f)
        self.input_name = self.contract["input"]["name"]

    def execute(self, requests):
        import triton_python_backend_utils as pb_utils
        responses = []
        for request in requests:
            images = pb_utils.get_input_tensor_by_name(request, "image").as_numpy()
            xs, lbs = zip(*(preprocess(im, self.contract) for im in images))
            responses.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor(self.input_name, np.stack(xs)),
                pb_utils.Tensor("letterbox", np.stack(lbs)),
            ]))
        return responses
