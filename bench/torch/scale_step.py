"""One training step of the scale bench in PyTorch on the CPU, the peer of bench/scale.ts.

The network is webmtl's createModel({arch: 'shared-encoder', backbone, width: 1, head: 'conv'}) at
its default output stride 8 (layer3 and layer4 dilated instead of strided): ResNet-18 with
webmtl's dilated BasicBlocks (the first block of a dilated stage runs its first conv at the previous
dilation, its second at the new one; torchvision's BasicBlock has no dilation), or torchvision's
ResNet-50 with replace_stride_with_dilation=[False, True, True]; without avgpool/fc; one
FCN-style head per task (3x3 conv C->C/4 without bias, BN, ReLU, 1x1 conv with bias), logits
upsampled bilinearly (align_corners=False) to the input size, the four tasks' losses as
src/mtl/tasks (cross-entropy ignoring 255 over 40 classes, masked L1 depth, masked L1 of normalised
normals, balanced BCE edges) summed with equal weights, Adam lr 1e-4.

Usage: scale_step.py BACKBONE N H W STEPS [THREADS]   (threads default: the CPUs this process may use,
the same cores lavapipe runs webmtl's kernels on)
Prints one JSON line: torch version, threads, the first step's ms, the median of the other steps,
and the peak resident set growth (ru_maxrss after the steps minus before the model was built).
"""
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models import resnet50

TASKS = {"semseg": 40, "depth": 1, "normals": 3, "edge": 1}


class Block(nn.Module):
    def __init__(self, inp, planes, stride=1, dil1=1, dil2=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, planes, 3, stride, padding=dil1, dilation=dil1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, padding=dil2, dilation=dil2, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        down = stride != 1 or inp != planes
        self.down = nn.Sequential(nn.Conv2d(inp, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)) if down else None

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + (self.down(x) if self.down is not None else x))


class ResNet18OS8(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64)
        self.relu, self.maxpool = nn.ReLU(), nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(Block(64, 64), Block(64, 64))
        self.layer2 = nn.Sequential(Block(64, 128, 2), Block(128, 128))
        self.layer3 = nn.Sequential(Block(128, 256, 1, 1, 2), Block(256, 256, 1, 2, 2))
        self.layer4 = nn.Sequential(Block(256, 512, 1, 2, 4), Block(512, 512, 1, 4, 4))


class Features(nn.Module):
    def __init__(self, name):
        super().__init__()
        if name == "resnet18":
            m, self.channels = ResNet18OS8(), 512
        elif name == "resnet50":
            m, self.channels = resnet50(weights=None, replace_stride_with_dilation=[False, True, True]), 2048
        else:
            raise SystemExit(f"no PyTorch peer for backbone {name}")
        self.body = nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool, m.layer1, m.layer2, m.layer3, m.layer4)

    def forward(self, x):
        return self.body(x)


def head(cin, cout):
    mid = cin // 4
    return nn.Sequential(nn.Conv2d(cin, mid, 3, padding=1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(), nn.Conv2d(mid, cout, 1))


def loss(task, pred, target):
    if task == "semseg":
        return F.cross_entropy(pred, target, ignore_index=255)
    if task == "depth":
        return (pred - target).abs().mean()
    if task == "normals":
        return (F.normalize(pred, dim=1, eps=1e-12) - target).abs().mean()
    wgt = (1 - 0.95) + (2 * 0.95 - 1) * target
    return F.binary_cross_entropy_with_logits(pred, target, weight=wgt)


def main():
    name, n, h, w, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(int(sys.argv[6]) if len(sys.argv) > 6 else len(os.sched_getaffinity(0)))
    torch.manual_seed(0)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    enc = Features(name)
    heads = nn.ModuleDict({t: head(enc.channels, c) for t, c in TASKS.items()})
    params = list(enc.parameters()) + list(heads.parameters())
    opt = torch.optim.Adam(params, lr=1e-4)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, h, w, generator=g)
    targets = {
        "semseg": torch.randint(0, 40, (n, h, w), generator=g),
        "depth": torch.rand(n, 1, h, w, generator=g) * 5 + 0.5,
        "normals": F.normalize(torch.randn(n, 3, h, w, generator=g), dim=1),
        "edge": (torch.rand(n, 1, h, w, generator=g) < 0.05).float(),
    }
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        z = enc(x)
        total = sum(loss(t, F.interpolate(hd(z), size=(h, w), mode="bilinear", align_corners=False), targets[t]) for t, hd in heads.items())
        total.backward()
        opt.step()
        times.append((time.perf_counter() - t0) * 1000)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "first_ms": times[0],
        "ms": statistics.median(times[1:]) if len(times) > 1 else times[0],
        "peak_rss_growth_bytes": (rss - rss0) * 1024,
    }))


if __name__ == "__main__":
    main()
