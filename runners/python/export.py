#!/usr/bin/env python3
"""paddock's export step: checkpoint -> smoke forward -> ONNX (opset 17, dynamic batch axis)
and a TorchScript trace, speaking paddock's event protocol on stdout.

    python3 runners/python/export.py '<json params>'

params: checkpoint, architecture {file, class, kwargs}, input {name, shape}, outputs [names],
out (a directory), opset (17), smoke_batch (2), seed (0), smoke_only (false).
The smoke forward runs one seeded batch and fails on NaN or Inf in any output. The exports are
checked here too: the TorchScript against the eager model on the smoke batch (max abs error).
After an export, <out>/reports/export.json says how it was made (the exporter's options), on
which host (paddock_model.host_info: CPU, GPU, driver, CUDA, cuDNN, TensorRT), and the
TorchScript graph's operators with counts, for export_report.json.
Exit 0 on success, 1 on a failed check, 2 on bad parameters.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

from paddock_events import artifact, log, metric  # noqa: E402
from paddock_model import SpecError, host_info, load_model, seeded_input  # noqa: E402


def torchscript_operators(module):
    """The TorchScript graph's operators by namespace (aten, prim, ...) with counts, calls inlined
    (Graph.nodes() of inlined_graph: the top-level nodes; a traced module has no control-flow blocks)."""
    counts = {}
    for node in module.inlined_graph.nodes():
        domain, _, op = node.kind().partition("::")
        counts[(domain, op)] = counts.get((domain, op), 0) + 1
    return [{"domain": d, "op": o, "opset": None, "count": n} for (d, o), n in sorted(counts.items())]


def write_report(out, data):
    path = os.path.join(out, "reports", "export.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = dict({"step": "export", "written": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z"}, **data)
    with open(path + ".tmp", "w") as f:
        json.dump(data, f, indent=1)
    os.replace(path + ".tmp", path)


def fail(msg, code=1):
    sys.stderr.write("export: %s\n" % msg)
    sys.exit(code)


def main():
    try:
        params = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    except ValueError as err:
        fail("parameters are not valid JSON: %s" % err, 2)
    outputs = params.get("outputs") or []
    input_name = (params.get("input") or {}).get("name") or "input"
    opset = int(params.get("opset", 17))
    try:
        t0 = time.time()
        model = load_model(params)
        x = seeded_input(params, int(params.get("smoke_batch", 2)), int(params.get("seed", 0)))
    except SpecError as err:
        fail(str(err), 2)
    log("info", "loaded %s (%d parameters) in %.2f s; torch %s" % (params["checkpoint"], sum(p.numel() for p in model.parameters()), time.time() - t0, torch.__version__))

    with torch.no_grad():
        ys = model(x)
    ys = ys if isinstance(ys, (tuple, list)) else [ys]
    bad = []
    for i, y in enumerate(ys):
        name = outputs[i] if i < len(outputs) else "output%d" % i
        nan, inf = int(torch.isnan(y).sum()), int(torch.isinf(y).sum())
        metric("smoke.nonfinite", nan + inf, target=name, denominators={"values": int(y.numel())})
        if nan or inf:
            bad.append("%s: %d NaN, %d Inf of %d values" % (name, nan, inf, y.numel()))
    if bad:
        fail("smoke forward of %s produced non-finite values: %s" % (params["checkpoint"], "; ".join(bad)))
    log("info", "smoke forward: batch %s, %d outputs, all finite" % (list(x.shape), len(ys)))
    if params.get("smoke_only"):
        return 0

    out = params.get("out")
    if not out:
        fail("params.out (a directory) is required", 2)
    os.makedirs(out, exist_ok=True)
    if len(outputs) != len(ys):
        fail("the model returns %d outputs but %d output names were given" % (len(ys), len(outputs)), 2)

    onnx_path = os.path.join(out, "model.onnx")
    names = [input_name] + outputs
    options = {"opset_version": opset, "input_names": [input_name], "output_names": outputs,
               "dynamic_axes": {k: {0: "batch"} for k in names}, "do_constant_folding": True}
    # torch 2.9+ exports with the dynamo exporter by default, which writes the weights to a
    # model.onnx.data beside the model and converts from opset 18; the pack is one model.onnx at
    # the opset asked for, so the TorchScript-based exporter is asked for where there is a choice.
    import inspect
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        options["dynamo"] = False
    torch.onnx.export(model, x, onnx_path, **options)
    artifact(onnx_path, role="onnx")

    ts_path = os.path.join(out, "model.ts")
    with torch.no_grad():
        traced = torch.jit.trace(model, x)
    traced.save(ts_path)
    # Loaded back from the file: the checks and the operator inventory are of what the pack holds
    # (a saved module has a few more constants than the traced one in memory).
    saved = torch.jit.load(ts_path)
    with torch.no_grad():
        again = saved(x)
    err = max(float((a - b).abs().max()) for a, b in zip(ys, again))
    metric("export.torchscript_max_abs_error", err, target="torchscript")
    artifact(ts_path, role="torchscript")
    log("info", "exported ONNX opset %d (dynamic batch) and TorchScript; TorchScript vs eager max |error| %.3g" % (opset, err))
    atol = float(params.get("torchscript_atol", 1e-4))
    ok = err <= atol
    write_report(out, {
        "status": "succeeded" if ok else "failed",
        "host": host_info("cpu"),
        "torch": torch.__version__,
        "onnx": {"file": "model.onnx", "exporter": "torch.onnx.export (torch %s)" % torch.__version__,
                 "options": dict(options, dynamic_axes={k: {"0": "batch"} for k in names}),
                 "sample_input_shape": list(x.shape)},
        "torchscript": {"file": "model.ts", "method": "torch.jit.trace on the smoke batch", "sample_input_shape": list(x.shape),
                        "max_abs_error_vs_eager": err, "atol": atol, "operators": torchscript_operators(saved)},
    })
    if not ok:
        fail("the TorchScript trace differs from the eager model by %.3g (> %g)" % (err, atol))
    return 0


if __name__ == "__main__":
    sys.exit(main())
