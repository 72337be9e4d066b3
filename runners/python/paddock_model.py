"""Builds a PyTorch model from a checkpoint and an architecture spec (shared by the export and
benchmark steps).

    spec = {"checkpoint": "model.pt", "architecture": {"file": "train_detector.py",
            "class": "CenterNet", "kwargs": {"width": 16}},
            "input": {"name": "images", "shape": [-1, 3, 192, 320]},
            "outputs": ["heatmap", "size", "offset"]}

The architecture file is imported by path (its directory goes first on sys.path), the class is
built with kwargs and the checkpoint (a state dict, or a whole pickled module) is loaded on the CPU.
"""
import importlib.util
import os
import sys

import torch


class SpecError(Exception):
    pass


def load_model(spec):
    arch = spec.get("architecture") or {}
    path = arch.get("file")
    if not path or not os.path.isfile(path):
        raise SpecError("architecture.file %r: no such file" % (path,))
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    mod_spec = importlib.util.spec_from_file_location("paddock_arch", path)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    cls = getattr(module, arch.get("class", ""), None)
    if cls is None:
        raise SpecError("%s defines no class %r" % (path, arch.get("class")))
    model = cls(**(arch.get("kwargs") or {}))
    ckpt = spec.get("checkpoint")
    if not ckpt or not os.path.isfile(ckpt):
        raise SpecError("checkpoint %r: no such file" % (ckpt,))
    state = torch.load(ckpt, map_location="cpu")
    if isinstance(state, torch.nn.Module):
        model = state
    else:
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        try:
            model.load_state_dict(state)
        except RuntimeError as err:
            raise SpecError("checkpoint %s does not fit %s(%s): %s" % (ckpt, arch.get("class"), arch.get("kwargs"), str(err).splitlines()[0]))
    model.eval()
    return model


def input_shape(spec, batch):
    shape = list((spec.get("input") or {}).get("shape") or [])
    if len(shape) < 2:
        raise SpecError("input.shape is missing (e.g. [-1, 3, 192, 320])")
    return [batch] + [int(d) for d in shape[1:]]


def seeded_input(spec, batch, seed):
    g = torch.Generator().manual_seed(seed)
    # Images normalised by mean/std look like N(0, 1)-ish data; uniform noise would not.
    return torch.randn(*input_shape(spec, batch), generator=g)


def _nvidia_smi(args):
    """nvidia-smi's output, or (None, why) where there is none."""
    import subprocess
    try:
        r = subprocess.run(["nvidia-smi"] + args, capture_output=True, text=True, timeout=10)
    except FileNotFoundError:
        return None, "nvidia-smi is not on PATH"
    except Exception as err:  # a hung or broken driver: say so, do not fail the step
        return None, "nvidia-smi failed: %s" % err
    if r.returncode != 0:
        return None, "nvidia-smi failed: %s" % ((r.stderr or r.stdout).strip().splitlines() or ["exit %d" % r.returncode])[0]
    return r.stdout, None


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
        for key in ("model name", "Model", "Hardware", "cpu model"):
            for line in text.splitlines():
                k, _, v = line.partition(":")
                if k.strip() == key and v.strip():
                    return v.strip()
    except OSError:
        pass
    import platform
    return platform.processor() or None


def host_info(device=None):
    """The machine a Python step ran on, in the export report's Host shape (src/schema/export-report.ts):
    CPU model and cores, memory, GPUs and driver (nvidia-smi), and the CUDA, cuDNN and TensorRT this
    torch uses (torch.version.cuda, torch.backends.cudnn.version(), the tensorrt module): each null
    with a reason where absent, never guessed."""
    import platform
    import socket
    cores = os.cpu_count()
    cpu = {"model": _cpu_model(), "cores": cores}
    if not cpu["model"]:
        cpu["reason"] = "neither /proc/cpuinfo nor platform.processor() names the CPU model"
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    except (ValueError, OSError, AttributeError):
        mem = None
    gpus, gpu_reason = [], None
    driver = {"version": None, "reason": "no NVIDIA driver found"}
    cuda_driver = {"version": None, "reason": "no NVIDIA driver found"}
    out, why = _nvidia_smi(["--query-gpu=index,name,driver_version,memory.total", "--format=csv,noheader,nounits"])
    if out is None:
        gpu_reason = "no GPU found: %s" % why
        driver = {"version": None, "reason": why}
        cuda_driver = {"version": None, "reason": why}
    else:
        for line in out.splitlines():
            parts = [x.strip() for x in line.split(",")]
            if len(parts) < 4:
                continue
            try:
                mib = float(parts[3])
            except ValueError:
                mib = None
            gpus.append({"index": int(parts[0]), "name": parts[1], "driver": parts[2] if "N/A" not in parts[2] else None, "memory_mib": mib})
        if not gpus:
            gpu_reason = "nvidia-smi lists no GPU"
        d = next((g["driver"] for g in gpus if g["driver"]), None)
        driver = {"version": d, "source": "nvidia-smi --query-gpu=driver_version"} if d else {"version": None, "reason": "nvidia-smi reports no driver version"}
        head, why = _nvidia_smi([])
        import re
        m = re.search(r"CUDA Version:\s*([\d.]+)", head or "")
        cuda_driver = {"version": m.group(1), "source": "nvidia-smi's header (the newest CUDA the driver supports)"} if m else {"version": None, "reason": why or "nvidia-smi's header names no CUDA version"}
    on_cuda = device == "cuda" or (device is None and torch.cuda.is_available())
    if torch.version.cuda is None:
        cuda = {"version": None, "reason": "torch %s is built without CUDA" % torch.__version__}
        cudnn = {"version": None, "reason": "torch %s is built without CUDA, so without cuDNN" % torch.__version__}
    else:
        cuda = {"version": torch.version.cuda, "source": "torch.version.cuda"}
        if not on_cuda:
            cuda["reason"] = "the CUDA torch was built with; this step ran on the CPU"
        v = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        cudnn = {"version": str(v), "source": "torch.backends.cudnn.version()"} if v else {"version": None, "reason": "torch.backends.cudnn reports no cuDNN"}
    try:
        import tensorrt  # noqa: F401
        trt = {"version": tensorrt.__version__, "source": "the tensorrt Python module"}
    except Exception as err:
        trt = {"version": None, "reason": "no TensorRT Python module (%s)" % (str(err).splitlines() or ["not importable"])[0]}
    return {
        "name": socket.gethostname(),
        "container": os.path.exists("/.dockerenv") or os.path.exists("/run/.containerenv"),
        "os": "%s %s %s" % (platform.system(), platform.release(), platform.machine()),
        "cpu": cpu,
        "memory_mib": round(mem) if mem else None,
        "gpus": gpus,
        "gpu_reason": gpu_reason,
        "driver": driver,
        "cuda": cuda,
        "cuda_driver": cuda_driver,
        "cudnn": cudnn,
        "tensorrt": trt,
        "source": "python %s step with torch %s: /proc/cpuinfo, nvidia-smi, torch.version.cuda, torch.backends.cudnn" % (platform.python_version(), torch.__version__),
    }


def reset_peak_rss():
    """Resets this process's resident high-water mark (VmHWM) to its current RSS (Linux 4.0+:
    `echo 5 > /proc/self/clear_refs`); False where that cannot be done."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss(reset_done):
    """Peak resident memory in MiB, with how it was measured and what it includes."""
    includes = "the whole Python process: the interpreter, torch and its libraries, the model's weights, the inputs and every mode's working memory"
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:") and reset_done:
                    return {"peak_rss_mib": round(int(line.split()[1]) / 1024, 1), "method": "VmHWM of /proc/self/status, reset (clear_refs 5) just before this mode's warm-up", "includes": includes}
    except OSError:
        pass
    import resource
    return {"peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1), "method": "getrusage ru_maxrss: the peak of the process's whole life so far (the high-water mark could not be reset)", "includes": includes}
