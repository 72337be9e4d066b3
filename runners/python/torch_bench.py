#!/usr/bin/env python3
"""paddock's PyTorch latency benchmark step: one model, several execution modes and batch sizes,
latency events streamed live, p50/p95/p99/mean, throughput and GPU memory as metrics.

    python3 runners/python/torch_bench.py '<json params>'

params: checkpoint, architecture {file, class, kwargs}, input {shape}, model (a name for the
targets), pack (optional: reports/torch-bench.json is written there), device ("cuda" or "cpu"; default cuda when available), modes (fp32, fp16-autocast,
torchscript, cuda-graph), batches ([1, 8]), iterations (200), warmup (30), report_every (50), seed.

On CUDA each iteration is timed with a pair of CUDA events on the stream (after the warm-up;
events read once per report batch, so the host does not wait between iterations); on the CPU with
perf_counter. Inputs rotate among 4 seeded batches so repeated runs do not measure one cached
buffer. Targets are "<model>/torch-<mode>/b<batch>" (on CUDA) or ".../cpu-torch-<mode>/b<batch>".

Percentiles are paddock's one definition (src/metrics/percentile.ts, mirrored by `percentile`
below and tested against it): numpy's linear interpolation, type 7, on the exact samples.
reports/torch-bench.json also says on which host (paddock_model.host_info), with which options
(device, threads, cudnn.benchmark, how each mode is built) and each mode's peak resident memory.
"""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

from paddock_events import latency, log, metric, progress  # noqa: E402
from paddock_model import SpecError, host_info, load_model, peak_rss, reset_peak_rss, seeded_input  # noqa: E402

MODES = ("fp32", "fp16-autocast", "torchscript", "cuda-graph")


PERCENTILE_DEFINITION = "linear (numpy default, Hyndman-Fan type 7)"
MODE_BUILD = {
    "fp32": "the eager module, float32",
    "fp16-autocast": "the eager module under torch.autocast('cuda', dtype=torch.float16)",
    "torchscript": "torch.jit.trace on the first input, then torch.jit.freeze",
    "cuda-graph": "the eager module captured once in a torch.cuda.CUDAGraph, replayed",
}


def percentile(sorted_xs, q):
    """The q-quantile (0..1) of samples sorted ascending: paddock's one definition, numpy's linear
    interpolation (type 7), as src/metrics/percentile.ts percentileSorted computes it."""
    if not sorted_xs:
        return float("nan")
    k = (len(sorted_xs) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (k - lo)


def make_runner(model, mode, xs, cuda):
    """Returns run(i) -> outputs for input set i % len(xs)."""
    if mode == "fp32":
        return lambda i: model(xs[i % len(xs)])
    if mode == "fp16-autocast":
        if not cuda:
            return None
        def run(i):
            with torch.autocast("cuda", dtype=torch.float16):
                return model(xs[i % len(xs)])
        return run
    if mode == "torchscript":
        traced = torch.jit.trace(model, xs[0])
        traced = torch.jit.freeze(traced.eval()) if hasattr(torch.jit, "freeze") else traced
        return lambda i: traced(xs[i % len(xs)])
    if mode == "cuda-graph":
        if not cuda:
            return None
        static_in = xs[0].clone()
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):
                model(static_in)
        torch.cuda.current_stream().wait_stream(s)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_out = model(static_in)
        def run(i):
            static_in.copy_(xs[i % len(xs)])
            graph.replay()
            return static_out
        return run
    raise SpecError("unknown mode %r (known: %s)" % (mode, ", ".join(MODES)))


def main():
    try:
        p = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    except ValueError as err:
        sys.stderr.write("torch_bench: parameters are not valid JSON: %s\n" % err)
        return 2
    want = p.get("device") or ("cuda" if torch.cuda.is_available() else "cpu")
    if want == "cuda" and not torch.cuda.is_available():
        sys.stderr.write("torch_bench: device cuda asked for, but torch %s sees no CUDA device\n" % torch.__version__)
        return 1
    cuda = want == "cuda"
    dev = torch.device(want)
    try:
        model = load_model(p).to(dev)
    except SpecError as err:
        sys.stderr.write("torch_bench: %s\n" % err)
        return 2
    name = p.get("model", "model")
    iters, warmup, every = int(p.get("iterations", 200)), int(p.get("warmup", 30)), int(p.get("report_every", 50))
    gpu = torch.cuda.get_device_name(0) if cuda else "cpu"
    log("info", "torch %s on %s%s" % (torch.__version__, gpu, (", CUDA %s, cuDNN %s" % (torch.version.cuda, torch.backends.cudnn.version())) if cuda else ""))
    if cuda:
        torch.backends.cudnn.benchmark = True
    modes = p.get("modes") or list(MODES)
    batches = p.get("batches") or [1, 8]
    total = len(modes) * len(batches) * iters
    done = 0
    summary = []
    results = []
    for batch in batches:
        xs = [seeded_input(p, batch, int(p.get("seed", 0)) + k).to(dev) for k in range(4)]
        for mode in modes:
            target = "%s/%storch-%s/b%d" % (name, "" if cuda else "cpu-", mode, batch)
            with torch.no_grad():
                run = make_runner(model, mode, xs, cuda)
                if run is None:
                    log("warn", "%s: mode %s needs CUDA; skipped on the CPU" % (target, mode))
                    done += iters
                    continue
                if cuda:
                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats()
                reset = reset_peak_rss()
                for i in range(warmup):
                    run(i)
                if cuda:
                    torch.cuda.synchronize()
                samples = []
                t_wall = time.perf_counter()
                i = 0
                while i < iters:
                    n = min(every, iters - i)
                    if cuda:
                        ev = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(n)]
                        for k in range(n):
                            ev[k][0].record()
                            run(i + k)
                            ev[k][1].record()
                        ev[-1][1].synchronize()
                        chunk = [a.elapsed_time(b) for a, b in ev]
                    else:
                        chunk = []
                        for k in range(n):
                            t = time.perf_counter()
                            run(i + k)
                            chunk.append((time.perf_counter() - t) * 1000)
                    samples.extend(chunk)
                    latency(target, chunk)
                    i += n
                    done += n
                    progress(done, total, "runs")
                wall = time.perf_counter() - t_wall
            s = sorted(samples)
            den = {"samples": len(s), "batch": batch}
            for q, label in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
                metric("latency.%s_ms" % label, percentile(s, q), unit="ms", target=target, denominators=den)
            metric("latency.mean_ms", statistics.fmean(s), unit="ms", target=target, denominators=den)
            metric("throughput.items_per_s", len(s) * batch / wall, unit="items/s", target=target, denominators=den)
            if cuda:
                metric("memory.gpu_peak_allocated_mb", torch.cuda.max_memory_allocated() / 2**20, unit="MiB", target=target)
                metric("memory.gpu_peak_reserved_mb", torch.cuda.max_memory_reserved() / 2**20, unit="MiB", target=target)
            summary.append("%s p50 %.3f ms p99 %.3f ms" % (target, percentile(s, 0.5), percentile(s, 0.99)))
            results.append({"target": target, "mode": mode, "batch": batch, "samples": len(s), "p50_ms": percentile(s, 0.5),
                            "p95_ms": percentile(s, 0.95), "p99_ms": percentile(s, 0.99), "mean_ms": statistics.fmean(s),
                            "items_per_s": len(s) * batch / wall, "percentiles": PERCENTILE_DEFINITION,
                            "memory": peak_rss(reset),
                            "gpu_peak_allocated_mb": torch.cuda.max_memory_allocated() / 2**20 if cuda else None})
    for line in summary:
        log("info", line)
    if p.get("pack"):
        # The pack's report, for export_report.json (written whole, then renamed).
        out = os.path.join(p["pack"], "reports", "torch-bench.json")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out + ".tmp", "w") as f:
            options = {"device": want, "torch_threads": torch.get_num_threads(), "torch_interop_threads": torch.get_num_interop_threads(),
                       "cudnn_benchmark": bool(torch.backends.cudnn.benchmark) if cuda else None, "no_grad": True,
                       "timing": "CUDA events around each run" if cuda else "time.perf_counter around each run",
                       "modes": {m: MODE_BUILD.get(m) for m in modes}}
            json.dump({"step": "torch-bench", "written": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z", "status": "succeeded", "device": gpu, "torch": torch.__version__,
                       "cuda": torch.version.cuda if cuda else None, "host": host_info(want), "options": options,
                       "percentiles": PERCENTILE_DEFINITION, "iterations": iters, "warmup": warmup, "results": results}, f, indent=1)
        os.replace(out + ".tmp", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
