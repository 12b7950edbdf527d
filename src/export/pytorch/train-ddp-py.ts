/**
 * The text of train_ddp.py: a torch.distributed / DistributedDataParallel trainer for an exported
 * model. It reads everything run-specific from train_plan.json (written beside it by
 * src/export/pytorch/plan.ts: tasks and their losses, balancer, optimiser, schedule, batch size),
 * so the script itself is the same for every run. It mirrors src/mtl/trainer.ts: per-task losses
 * as src/mtl/tasks (auxiliary predictions added with the same loss), the balancers equal, fixed,
 * uncertainty and GradNorm as src/mtl/balance (GradNorm's per-task gradients of W and losses are
 * averaged over the ranks first, so every rank takes the same weight step), the schedule applied
 * before each step as LRScheduler. Rank 0 writes a webmtl run folder (config.json and
 * checkpoints/last.safetensors in webmtl's checkpoint format, model weights as `model.<name>`), so
 * `webmtl eval` and `webmtl train --resume` read what it trained.
 */

/** Python source of train_ddp.py (no substitutions: run data comes from train_plan.json). */
export const TRAIN_DDP_PY = String.raw`"""Trains the exported webmtl model with torch.distributed (DistributedDataParallel).

  torchrun --nproc_per_node N train_ddp.py [--out DIR] [--steps S] [--batch-size B]

Runs on CPUs (gloo) and GPUs (nccl, one process per GPU); the run's tasks, losses, balancer,
optimiser and schedule come from train_plan.json, the model from model.py and weights.safetensors,
the data from the shards in data/ (written by webmtl export, memory-mapped; replace make_dataset()
to read your own). Rank 0 writes DIR/config.json and DIR/checkpoints/last.safetensors: a webmtl run folder
(webmtl eval DIR, webmtl train --resume DIR).
"""
import argparse
import bisect
import json
import math
import mmap
import os
import shutil
import struct
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

HERE = os.path.dirname(os.path.abspath(__file__))
STARTED = time.time()
sys.path.insert(0, HERE)
import model as exported  # noqa: E402  (model.py beside this file)


# ---- data -------------------------------------------------------------------------------------
def map_safetensors(path):
    """{name: tensor} over a memory-mapped safetensors file: pages load when read and are shared
    by the ranks through the page cache (copy-on-write, so the tensors are writable)."""
    with open(path, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    (n,) = struct.unpack("<Q", mm[:8])
    header = json.loads(mm[8:8 + n].decode("utf-8"))
    header.pop("__metadata__", None)
    tensors = {}
    for name, e in header.items():
        start, end = e["data_offsets"]
        dtype = exported._DTYPES[e["dtype"]]
        size = torch.tensor([], dtype=dtype).element_size()
        count = (end - start) // size
        if not 0 <= start <= end <= len(mm) - 8 - n or count * size != end - start:
            raise SystemExit("%s: tensor %s lies outside the file" % (path, name))
        tensors[name] = torch.frombuffer(mm, dtype=dtype, count=count, offset=8 + n + start).reshape(e["shape"])
    return tensors


class SampleShards(torch.utils.data.Dataset):
    """Samples of the shards listed in DIR/train.json (written by webmtl export): input
    [3, H, W] and per task target.<task> and, where there is one, mask.<task>."""

    def __init__(self, folder, tasks):
        with open(os.path.join(folder, "train.json")) as f:
            index = json.load(f)
        self.shards = [map_safetensors(os.path.join(folder, s["file"])) for s in index["shards"]]
        self.starts = [0]
        for s in self.shards:
            self.starts.append(self.starts[-1] + s["input"].shape[0])
        self.keys = ["input"]
        for t in tasks:
            if "target." + t not in self.shards[0]:
                raise SystemExit("%s has no ground truth for task %s" % (folder, t))
            self.keys += [k for k in ("target." + t, "mask." + t) if k in self.shards[0]]

    def __len__(self):
        return self.starts[-1]

    def __getitem__(self, i):
        k = bisect.bisect_right(self.starts, i) - 1
        shard, row = self.shards[k], i - self.starts[k]
        return {key: shard[key][row] for key in self.keys}


def make_dataset(args, plan):
    """The training samples; replace this to read your own data (same keys per sample)."""
    return SampleShards(args.data, [t["name"] for t in plan["tasks"]])


# ---- task losses (src/mtl/tasks) ---------------------------------------------------------------
def masked_mean(values, mask):
    if mask is None:
        return values.mean()
    m = mask.expand_as(values)
    return (values * m).sum() / m.sum().clamp(min=1)


def balanced_bce(x, t, w, mask):
    weight = (1 - w) + (2 * w - 1) * t
    if mask is not None:
        weight = weight * mask
    return F.binary_cross_entropy_with_logits(x, t, weight=weight)


def task_loss(task, pred, target, mask):
    kind = task["kind"]
    if kind == "segmentation":
        return F.cross_entropy(pred, target.long(), ignore_index=task["ignoreIndex"])
    if kind == "depth":
        return masked_mean((pred + task["offset"] - target).abs(), mask)
    if kind == "normals":
        n = F.normalize(pred, dim=1, eps=1e-12)
        if task["loss"] == "cosine":
            return masked_mean(1 - (n * target).sum(1, keepdim=True), mask)
        return masked_mean((n - target).abs(), mask)
    if kind == "edge":
        return balanced_bce(pred, target, task["posWeight"], mask)
    if kind == "saliency":
        return balanced_bce(pred, target, 1 - target.mean(), mask)
    raise SystemExit("task kind %s has no loss here" % kind)


# ---- balancers (src/mtl/balance) ---------------------------------------------------------------
def mean_over_ranks(t):
    t = t.detach().clone()
    dist.all_reduce(t)
    return t / dist.get_world_size()


class Fixed:
    def __init__(self, plan, device):
        b = plan["balancer"]
        self.name = b["name"]
        self.w = torch.tensor(b.get("weights") or [1.0] * len(plan["tasks"]), device=device)

    def parameters(self):
        return []

    def backward(self, losses, model):
        (torch.stack(losses) * self.w).sum().backward()
        return self.w

    def state(self):
        return {"scalars": {}, "tensors": {"weights": self.w}}


class Uncertainty:
    def __init__(self, plan, device):
        self.name = "uncertainty"
        self.log_vars = torch.zeros(len(plan["tasks"]), device=device, requires_grad=True)

    def parameters(self):
        return [self.log_vars]

    def backward(self, losses, model):
        w = 0.5 * torch.exp(-self.log_vars)
        (w * torch.stack(losses) + 0.5 * self.log_vars).sum().backward()
        # log_vars is not a DDP parameter: average its gradient like DDP does the model's.
        self.log_vars.grad = mean_over_ranks(self.log_vars.grad)
        return w.detach()

    def state(self):
        return {"scalars": {}, "tensors": {"logVars": self.log_vars}}


class GradNorm:
    """Algorithm 1 of Chen et al. 2018 as src/mtl/balance/gradnorm.ts (see there)."""

    def __init__(self, plan, device):
        b = plan["balancer"]
        self.name = "gradnorm"
        self.T = len(plan["tasks"])
        self.alpha, self.min_weight, self.kind = b["alpha"], b["minWeight"], b["optimizer"]
        self.W_name = plan["lastSharedLayer"]
        self.w = torch.ones(self.T, device=device, requires_grad=True)
        opt = torch.optim.Adam if self.kind == "adam" else torch.optim.SGD
        self.opt = opt([self.w], lr=b["lr"])
        il = b.get("initialLosses")
        self.initial = torch.tensor(il, device=device) if il else None
        self.used = torch.ones(self.T, device=device)

    def parameters(self):
        return []

    def backward(self, losses, model):
        W = model.module.get_parameter(self.W_name)
        L = torch.stack(losses)
        Ld = mean_over_ranks(L)
        if self.initial is None:
            self.initial = Ld.clone()
        w_now = self.w.detach().clone()
        # ||grad_W L_i|| of the global batch: the ranks' mean gradient of W, per task.
        norms = []
        for l in losses:
            (g,) = torch.autograd.grad(l, [W], retain_graph=True)
            norms.append(mean_over_ranks(g).pow(2).sum().sqrt())
        n = torch.stack(norms)
        (L * w_now).sum().backward()
        G = (self.w if self.min_weight >= 0 else self.w.abs()) * n
        with torch.no_grad():
            ratio = Ld / self.initial
            target = (ratio / ratio.mean()).pow(self.alpha) * G.mean()
        (gw,) = torch.autograd.grad((G - target).abs().sum(), [self.w])
        self.w.grad = torch.where(torch.isfinite(gw), gw, torch.zeros_like(gw))
        self.opt.step()
        self.w.grad = None
        with torch.no_grad():
            f = self.w if self.min_weight == -math.inf else self.w.clamp(min=self.min_weight)
            self.w.copy_(f / f.sum() * self.T)
        self.used = w_now
        return w_now

    def state(self):
        tensors = {"weights": self.w, "used": self.used}
        if self.initial is not None:
            tensors["initialLosses"] = self.initial
        st = self.opt.state.get(self.w, {})
        for k in ("exp_avg", "exp_avg_sq", "momentum_buffer"):
            if st.get(k) is not None:
                tensors["optim." + k] = st[k]
        step = st.get("step")
        return {"scalars": {"optimStep": [int(step)] if step is not None else []}, "tensors": tensors}


BALANCERS = {"equal": Fixed, "fixed": Fixed, "uncertainty": Uncertainty, "gradnorm": GradNorm}


# ---- optimiser and schedule (src/optim) --------------------------------------------------------
def make_optimizer(plan, params):
    o = plan["optimizer"]
    g = o["group"]
    if o["kind"] == "SGD":
        return torch.optim.SGD(params, lr=g["lr"], momentum=g["momentum"], dampening=g["dampening"],
                               weight_decay=g["weightDecay"], nesterov=g["nesterov"], maximize=g["maximize"])
    cls = torch.optim.AdamW if o["kind"] == "AdamW" else torch.optim.Adam
    return cls(params, lr=g["lr"], betas=tuple(g["betas"]), eps=g["eps"], weight_decay=g["weightDecay"],
               amsgrad=g["amsgrad"], maximize=g["maximize"])


def lr_at(plan, step, base):
    s = plan["schedule"]
    total = s["totalSteps"]
    if s["kind"] == "poly":
        lr = base * (1 - min(step, total) / total) ** s["power"]
    elif s["kind"] == "cosine":
        lr = base * (1 + math.cos(math.pi * step / total)) / 2
    else:
        lr = base
    warm = s["warmupSteps"]
    if warm > 0:
        lr *= 1 / 3 + (2 / 3) * min(step, warm) / warm
    return lr


# ---- webmtl checkpoint -------------------------------------------------------------------------
def save_checkpoint(path, plan, model, optimizer, balancer, params, step, base_lr):
    o = plan["optimizer"]
    tensors = {"model." + k: v for k, v in model.state_dict().items()}
    state = {}
    for i, p in enumerate(params):
        st = optimizer.state.get(p)
        if not st:
            continue
        buffers = {}
        for k in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq", "momentum_buffer"):
            if st.get(k) is not None and not (k == "max_exp_avg_sq" and not o["group"].get("amsgrad")):
                name = "state.%d.buffers.%s" % (i, k)
                tensors["optim." + name] = st[k]
                buffers[k] = {"$tensor": name}
        state[str(i)] = {"step": int(st["step"]) if "step" in st else step, "buffers": buffers}
    # webmtl restores the schedule, then the group: the lr of the next step, as its own checkpoints.
    group = dict(o["group"], lr=lr_at(plan, step, base_lr), params=list(range(len(params))))
    bs = balancer.state()
    spe = plan["train"]["stepsPerEpoch"]
    epoch = step // spe
    extra = {
        "epoch": epoch, "epochStartStep": epoch * spe, "batchInEpoch": step - epoch * spe,
        "name": plan["run"], "time": time.time() - STARTED, "source": "train_ddp.py",
        "balancer": {"name": balancer.name, "scalars": bs["scalars"], "tensors": {
            k: {"shape": list(v.shape), "data": v.detach().cpu().flatten().tolist()} for k, v in bs["tensors"].items()}},
    }
    meta = {
        "format": json.dumps("webmtl.checkpoint"), "version": "1", "step": str(step),
        "optimizer": json.dumps({"kind": o["kind"], "state": state, "paramGroups": [group]}),
        "schedule": json.dumps({"step": step, "baseLrs": [base_lr]}),
        "extra": json.dumps(extra),
    }
    os.makedirs(os.path.dirname(path), exist_ok=True)
    exported.save_safetensors(tensors, path, meta)


# ---- training ----------------------------------------------------------------------------------
def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--plan", default=os.path.join(HERE, "train_plan.json"))
    p.add_argument("--weights", default=os.path.join(HERE, "weights.safetensors"))
    p.add_argument("--data", default=os.path.join(HERE, "data"), help="folder of train.json and its shards")
    p.add_argument("--out", default="ddp-run", help="run folder rank 0 writes")
    p.add_argument("--steps", type=int, default=None, help="steps to train (default: the run's epochs)")
    p.add_argument("--batch-size", type=int, default=None, help="per rank (default: the run's batch / ranks)")
    p.add_argument("--checkpoint-every", type=int, default=None, help="steps (default: one epoch)")
    p.add_argument("--dump-ranks", action="store_true", help="every rank writes OUT/rank<r>.safetensors at the end")
    args = p.parse_args()
    with open(args.plan) as f:
        plan = json.load(f)

    cuda = torch.cuda.is_available()
    if "RANK" not in os.environ:  # started without torchrun: one process
        os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT=os.environ.get("MASTER_PORT", "29500"))
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    local = int(os.environ.get("LOCAL_RANK", 0))
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    torch.manual_seed(plan["seed"])

    net = exported.load_model(args.weights).to(device)
    if cuda and world > 1:
        net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
    model = DistributedDataParallel(net, device_ids=[local] if cuda else None)
    method = plan["balancer"]["method"]
    if method not in BALANCERS:
        raise SystemExit("balancer %s has no DDP version here (use equal, fixed, uncertainty or gradnorm)" % method)
    balancer = BALANCERS[method](plan, device)
    params = [net.get_parameter(n) for n in plan["parameters"]] + balancer.parameters()
    optimizer = make_optimizer(plan, params)
    base_lr = plan["optimizer"]["group"]["lr"]

    data = make_dataset(args, plan)
    per_rank = args.batch_size or max(1, plan["train"]["batchSize"] // world)
    sampler = torch.utils.data.distributed.DistributedSampler(data, world, rank, shuffle=True, seed=plan["seed"], drop_last=True)
    loader = torch.utils.data.DataLoader(data, batch_size=per_rank, sampler=sampler, drop_last=True)
    if len(loader) == 0:
        raise SystemExit("%d samples are too few for %d ranks x batch %d" % (len(data), world, per_rank))
    steps = args.steps or plan["schedule"]["totalSteps"]
    every = args.checkpoint_every or plan["train"]["stepsPerEpoch"]
    tasks = plan["tasks"]
    ckpt = os.path.join(args.out, "checkpoints", "last.safetensors")
    if rank == 0:
        os.makedirs(args.out, exist_ok=True)
        shutil.copyfile(os.path.join(HERE, "run-config.json"), os.path.join(args.out, "config.json"))

    step, epoch = 0, 0
    model.train()
    while step < steps:
        sampler.set_epoch(epoch)
        for batch in loader:
            if step >= steps:
                break
            batch = {k: v.to(device) for k, v in batch.items()}
            for g in optimizer.param_groups:
                g["lr"] = lr_at(plan, step, base_lr)
            optimizer.zero_grad(set_to_none=True)
            out, aux = model(batch["input"], auxiliary=True)
            losses = []
            for t in tasks:
                tgt, mask = batch["target." + t["name"]], batch.get("mask." + t["name"])
                l = task_loss(t, out[t["name"]], tgt, mask)
                for a in aux.get(t["name"], []):
                    l = l + plan["auxWeight"] * task_loss(t, a, tgt, mask)
                losses.append(l)
            weights = balancer.backward(losses, model)
            optimizer.step()
            step += 1
            mean_losses = mean_over_ranks(torch.stack([l.detach() for l in losses]))
            if rank == 0:
                print(json.dumps({"step": step, "lr": optimizer.param_groups[0]["lr"],
                                  "losses": {t["name"]: float(v) for t, v in zip(tasks, mean_losses)},
                                  "weights": {t["name"]: float(v) for t, v in zip(tasks, weights)}}), flush=True)
            if rank == 0 and (step % every == 0 or step == steps):
                save_checkpoint(ckpt, plan, net, optimizer, balancer, params, step, base_lr)
        epoch += 1
    if args.dump_ranks:
        dump = dict(net.state_dict())
        dump.update({"balancer." + k: v for k, v in balancer.state()["tensors"].items()})
        exported.save_safetensors(dump, os.path.join(args.out, "rank%d.safetensors" % rank))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
`;
