"""The demo's training step in PyTorch on the CPU, the peer of bench/train-step.ts.

Same network as webmtl's createModel({arch: 'shared-encoder', backbone: 'resnet18', width: 0.25,
outputStride: 8, head: 'conv'}): a ResNet-18 with every channel count scaled by 0.25 (stem 16,
stages 16/32/64/128), layer3 and layer4 dilated (2, 4) instead of strided as torchvision's
replace_stride_with_dilation=[False, True, True], one FCN-style head per task (3x3 conv 128->32
without bias, BN, ReLU, 1x1 conv to the task's channels with bias), logits upsampled bilinearly
(align_corners=False) to 64x64. Losses as src/mtl/tasks: cross-entropy (ignore 255), masked L1 on
depth, masked L1 between the L2-normalised prediction and the normals, balanced BCE (0.95) on edges.
Adam lr 2e-3. GradNorm (alpha 1.5, weights trained by their own Adam, lr 0.025) is computed as
webmtl does it: per-task gradients of the last shared conv's weight W, of the representation c4 and
of the task's head in one autograd.grad each, then one backward of sum_i w_i dL_i/dc4 through the
encoder. Inputs are random tensors of the demo batch's shapes (time does not depend on values).

Protocol (stdin/stdout, one line each), so the TS bench can time both libraries round-robin:
  'gradnorm' or 'equal' -> runs one step of that model, prints its wall-clock milliseconds
  'quit'                -> exits
The first line printed is a JSON header {"torch": version, "threads": n, "first_step_ms": ms}.
With --runs N it instead runs standalone (warm-up, then N interleaved steps per method) and prints
one JSON line with the medians.
"""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

N, H, W = 8, 64, 64
TASKS = {"semseg": 6, "depth": 1, "normals": 3, "edge": 1}


def w(c):
    return max(1, round(c * 0.25))


class Block(nn.Module):
    def __init__(self, inp, planes, stride=1, dil1=1, dil2=1, down=False):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, planes, 3, stride, padding=dil1, dilation=dil1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, padding=dil2, dilation=dil2, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.down = nn.Sequential(nn.Conv2d(inp, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)) if down else None

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(h))
        return F.relu(y + (self.down(x) if self.down is not None else x))


class Encoder(nn.Module):
    """ResNet-18 at width 0.25, output stride 8 (layer3 dilation 2, layer4 dilation 4)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, w(64), 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(w(64))
        c1, c2, c3, c4 = w(64), w(128), w(256), w(512)
        self.layer1 = nn.Sequential(Block(c1, c1), Block(c1, c1))
        self.layer2 = nn.Sequential(Block(c1, c2, 2, down=True), Block(c2, c2))
        self.layer3 = nn.Sequential(Block(c2, c3, 1, 1, 2, down=True), Block(c3, c3, 1, 2, 2))
        self.layer4 = nn.Sequential(Block(c3, c4, 1, 2, 4, down=True), Block(c4, c4, 1, 4, 4))

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def head(cin, cout):
    mid = cin // 4
    return nn.Sequential(nn.Conv2d(cin, mid, 3, padding=1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(), nn.Conv2d(mid, cout, 1))


def batch():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, 3, H, W, generator=g)
    seg = torch.randint(0, 6, (N, H, W), generator=g)
    seg[:, :2] = 255
    depth = torch.rand(N, 1, H, W, generator=g) * 5 + 0.5
    normals = F.normalize(torch.randn(N, 3, H, W, generator=g), dim=1)
    edge = (torch.rand(N, 1, H, W, generator=g) < 0.05).float()
    ones = torch.ones(N, 1, H, W)
    return x, {"semseg": (seg, None), "depth": (depth, ones), "normals": (normals, ones), "edge": (edge, ones)}


def loss(task, pred, target, mask):
    if task == "semseg":
        return F.cross_entropy(pred, target, ignore_index=255)
    if task == "depth":
        return (mask * (pred - target).abs()).sum() / mask.sum().clamp(min=1)
    if task == "normals":
        n = F.normalize(pred, dim=1, eps=1e-12)
        return (mask * (n - target).abs()).sum() / (3 * mask.sum()).clamp(min=1)
    wgt = (mask * ((1 - 0.95) + (2 * 0.95 - 1) * target))
    return F.binary_cross_entropy_with_logits(pred, target, weight=wgt)


class Demo:
    """One model + optimiser; step() is Trainer.trainStep with GradNorm or equal weights."""

    def __init__(self, method):
        torch.manual_seed(0)
        self.method = method
        self.enc = Encoder()
        self.heads = nn.ModuleDict({t: head(w(512), c) for t, c in TASKS.items()})
        self.opt = torch.optim.Adam(list(self.enc.parameters()) + list(self.heads.parameters()), lr=2e-3)
        self.w = torch.ones(len(TASKS), requires_grad=True)
        self.wopt = torch.optim.Adam([self.w], lr=0.025)
        self.initial = None
        self.x, self.targets = batch()

    def step(self):
        self.opt.zero_grad(set_to_none=True)
        z = self.enc(self.x)
        losses = []
        for t, h in self.heads.items():
            p = F.interpolate(h(z), size=(H, W), mode="bilinear", align_corners=False)
            losses.append(loss(t, p, *self.targets[t]))
        if self.method == "equal":
            sum(losses).backward()
        else:
            self.gradnorm(z, losses)
        self.opt.step()

    def gradnorm(self, z, losses, alpha=1.5):
        W = self.enc.layer4[-1].conv2.weight
        L = torch.stack([l.detach() for l in losses])
        if self.initial is None:
            self.initial = L.clone()
        wnow = self.w.detach().clone()
        norms, gz = [], None
        for i, (l, h) in enumerate(zip(losses, self.heads.values())):
            hp = list(h.parameters())
            g = torch.autograd.grad(l, [W, z] + hp, retain_graph=True)
            norms.append(g[0].norm())
            gz = g[1] * wnow[i] if gz is None else gz + g[1] * wnow[i]
            for p, gp in zip(hp, g[2:]):
                p.grad = gp * wnow[i]
        z.backward(gz)
        n = torch.stack(norms).detach()
        G = self.w * n
        ratio = L / self.initial
        target = (G.mean() * (ratio / ratio.mean()) ** alpha).detach()
        (gw,) = torch.autograd.grad((G - target).abs().sum(), [self.w])
        self.w.grad = torch.nan_to_num(gw, nan=0.0, posinf=0.0, neginf=0.0)
        self.wopt.step()
        with torch.no_grad():
            f = self.w.clamp(min=0)
            self.w.copy_(f / f.sum() * len(TASKS))


def timed(demo):
    t0 = time.perf_counter()
    demo.step()
    return (time.perf_counter() - t0) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=0, help="standalone: steps per method (0: serve stdin)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    demos = {m: Demo(m) for m in ("gradnorm", "equal")}
    first = timed(demos["gradnorm"])
    timed(demos["equal"])
    head_line = {"torch": torch.__version__, "threads": torch.get_num_threads(), "first_step_ms": first}
    if args.runs > 0:
        for _ in range(2):
            for d in demos.values():
                timed(d)
        times = {m: [] for m in demos}
        for _ in range(args.runs):
            for m, d in demos.items():
                times[m].append(timed(d))
        print(json.dumps({**head_line, "ms": {m: statistics.median(v) for m, v in times.items()}}), flush=True)
        return
    print(json.dumps(head_line), flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "quit":
            break
        print(f"{timed(demos[cmd]):.3f}", flush=True)


if __name__ == "__main__":
    main()
