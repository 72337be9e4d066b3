"""Print paddock event-protocol v1 lines from a Python step (stdlib only, Python >= 3.8).

    from paddock_events import log, progress, latency, metric, artifact, failure, verdict
    log("info", "exporting")
    latency("cpu-fp32", [3.1, 3.0, 3.2])
    metric("latency.p50_ms", 3.1, target="cpu-fp32", unit="ms", denominators={"samples": 3})
    artifact("out/model.onnx", role="onnx")   # computes sha256 and size

Each call writes one JSON line to stdout and flushes it, so paddock shows it live.
docs/events.md describes every field.
"""
import hashlib
import json
import math
import os
import sys
import time

PROTOCOL_VERSION = 1
_out = sys.stdout


def _emit(_type, **fields):
    # The event type is positional-only in spirit: `kind` is a field of failure events.
    event = {"v": PROTOCOL_VERSION, "type": _type, "ts": int(time.time() * 1000)}
    event.update({k: v for k, v in fields.items() if v is not None})
    _out.write(json.dumps(event, separators=(",", ":"), allow_nan=False) + "\n")
    _out.flush()


def log(level, message):
    """level: debug | info | warn | error."""
    _emit("log", level=level, message=str(message))


def progress(done, total=None, unit=None, message=None):
    _emit("progress", done=done, total=total, unit=unit, message=message)


def latency(target, samples_ms):
    """A batch of latency samples in milliseconds (send batches, not one line per sample)."""
    samples = [float(s) for s in samples_ms]
    for s in samples:
        if not math.isfinite(s) or s < 0:
            raise ValueError("latency samples must be finite and >= 0, got %r" % (s,))
    if samples:
        _emit("latency", target=target, samples=samples)


def metric(name, value, unit=None, slice=None, target=None, ci=None, denominators=None):
    """ci: (lo, hi) or (lo, hi, level); denominators: {"scenes": 12, "frames": 340, ...}."""
    if ci is not None:
        ci = {"lo": ci[0], "hi": ci[1], "level": ci[2] if len(ci) > 2 else 0.95}
    _emit("metric", name=name, value=float(value), unit=unit, slice=slice, target=target, ci=ci, denominators=denominators)


def artifact(path, role):
    """Declares a file this step produced; paddock checks the digest and stores it."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    _emit("artifact", path=os.fspath(path), sha256=h.hexdigest(), bytes=size, role=role)


def failure(id, kind, severity, title, evidence=None, data=None):
    """severity: info | minor | major | critical; evidence: [{"path": ..., "frames": [a, b]}]."""
    _emit("failure", id=id, kind=kind, severity=severity, title=title, evidence=evidence or [], data=data or {})


def verdict(gate, value, rationale=()):
    """value: pass | fail | review."""
    _emit("verdict", gate=gate, verdict=value, rationale=list(rationale))
