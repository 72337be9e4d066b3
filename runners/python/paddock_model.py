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
