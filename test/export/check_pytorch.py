"""Loads every exported model of a folder in PyTorch and compares its eval-mode outputs with webmtl's.

Usage: python3 check_pytorch.py ROOT. Each ROOT/<case>/ holds model.py and weights.safetensors
(written by webmtl export) and io.safetensors (the input `x` and webmtl's outputs `out.<task>`).
Prints one JSON object: {case: {task: {"err": max|a - b|, "scale": max|b|, "shape": [...]}}}, or
{case: {"error": message}} for a case that failed to load or run.
"""
import importlib.util
import json
import os
import sys
import traceback

import torch


def load_module(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def check(folder, name):
    mod = load_module(os.path.join(folder, "model.py"), "exported_" + name.replace("-", "_"))
    model = mod.load_model(os.path.join(folder, "weights.safetensors")).eval()
    io, _ = mod.load_safetensors(os.path.join(folder, "io.safetensors"))
    with torch.no_grad():
        out = model(io["x"])
    result = {}
    if sorted(out) != sorted(mod.TASKS):
        raise RuntimeError("outputs %s, tasks %s" % (sorted(out), mod.TASKS))
    for task, y in out.items():
        want = io["out." + task]
        if tuple(y.shape) != tuple(want.shape):
            raise RuntimeError("%s: shape %s, webmtl %s" % (task, list(y.shape), list(want.shape)))
        result[task] = {"err": (y - want).abs().max().item(), "scale": want.abs().max().item(), "shape": list(y.shape)}
    return result


def main(root):
    torch.set_num_threads(1)
    report = {}
    for name in sorted(os.listdir(root)):
        folder = os.path.join(root, name)
        if not os.path.isdir(folder):
            continue
        try:
            report[name] = check(folder, name)
        except Exception:
            report[name] = {"error": traceback.format_exc(limit=3)}
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
