"""The small-network step in PyTorch on the CPU, the peer of bench/small-net.ts.

A LeNet-sized two-task classifier: conv 3->6 5x5, ReLU, 2x2 max pool, conv 6->16 5x5, ReLU, 2x2 max
pool, flatten (400), linear 400->120, ReLU, and two linear heads 120->10; cross-entropy per head,
summed; Adam lr 1e-3; batch 64 of 3x32x32 random inputs with random labels.

Protocol (stdin/stdout, one line each), so the TS bench times both libraries round-robin:
  'step N' -> runs N steps, prints their total wall-clock milliseconds
  'quit'   -> exits
The first line printed is a JSON header {"torch": version, "threads": n}.
Usage: small_net.py [THREADS]  (default: the CPUs this process may use)
"""
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc = nn.Linear(400, 120)
        self.head_a = nn.Linear(120, 10)
        self.head_b = nn.Linear(120, 10)

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        h = F.relu(self.fc(h.flatten(1)))
        return self.head_a(h), self.head_b(h)


def main():
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else len(os.sched_getaffinity(0)))
    torch.manual_seed(0)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.randn(64, 3, 32, 32)
    ya = torch.randint(0, 10, (64,))
    yb = torch.randint(0, 10, (64,))

    def step():
        opt.zero_grad(set_to_none=True)
        a, b = net(x)
        (F.cross_entropy(a, ya) + F.cross_entropy(b, yb)).backward()
        opt.step()

    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        n = int(cmd[1])
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        print(f"{(time.perf_counter() - t0) * 1000:.4f}", flush=True)


if __name__ == "__main__":
    main()
