#!/usr/bin/env python3
"""Writes the operator list of ONNX Runtime's CPU execution provider as paddock's data file
(data/operators/onnxruntime-cpu-<version>.json): every registered CPU kernel's domain, operator
and opset range, read from the installed onnxruntime's own kernel registry, so the list is what
that build really runs, not a transcription of its docs.

    python3 scripts/ort-cpu-kernels.py > data/operators/onnxruntime-cpu-1.xx.json
"""
import json
import sys

import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as C

ops = {}
for k in C.get_all_opkernel_def():
    if k.provider != "CPUExecutionProvider":
        continue
    domain = k.domain or "ai.onnx"
    lo, hi = k.version_range
    key = (domain, k.op_name)
    cur = ops.get(key)
    hi = None if hi >= 2**31 - 1 else hi
    if cur is None:
        ops[key] = [lo, hi]
    else:
        cur[0] = min(cur[0], lo)
        cur[1] = None if (cur[1] is None or hi is None) else max(cur[1], hi)

# Constant has no kernel: onnxruntime turns Constant nodes into initializers when it loads a graph.
ops.setdefault(("ai.onnx", "Constant"), [1, None])

out = {
    "backend": "onnxruntime",
    "provider": "CPUExecutionProvider",
    "version": ort.__version__,
    "source": "onnxruntime.capi.onnxruntime_pybind11_state.get_all_opkernel_def() of onnxruntime " + ort.__version__,
    "operators": [
        {"domain": d, "op": o, "since": r[0], **({"until": r[1]} if r[1] is not None else {})}
        for (d, o), r in sorted(ops.items())
    ],
}
json.dump(out, sys.stdout, indent=1)
sys.stdout.write("\n")
