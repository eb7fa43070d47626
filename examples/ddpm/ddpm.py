"""A small diffusion model as a generation's model for `collapse run`, in PyTorch.

A denoising diffusion model (Ho et al. 2020): images are noised over T steps
of a linear schedule, and a small U-Net learns to predict the noise added.
Sampling runs the reverse process with DDIM's deterministic update (Song et
al. 2021) over a subsequence of the steps. Fitted to its own samples
generation after generation, it is the setting of Alemohammad et al. (2024),
"Self-Consuming Generative Models Go MAD".

    python ddpm.py train --data SET.npy --out MODEL_DIR --seed S --epochs E
    python ddpm.py sample --model MODEL_DIR --count N --out SAMPLES.npy --seed S

Both read and write the command protocol's files (docs/models.md): image
sets as float32 [n, height, width] in [0, 1]. It runs on the GPU the process
sees (CUDA_VISIBLE_DEVICES, which a Slurm task's allocation sets) and on the
CPU without one, with COLLAPSE_THREADS threads there.
"""

import argparse
import json
import math
import os
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def device():
    if torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        return torch.device("cuda")
    threads = os.environ.get("COLLAPSE_THREADS")
    if threads:
        torch.set_num_threads(int(threads))
    return torch.device("cpu")


def timestep_features(t, dim):
    """Sinusoidal features of the step numbers `t`, [len(t), dim]."""
    half = dim // 2
    rates = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device) / half)
    angles = t.float()[:, None] * rates[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class Block(nn.Module):
    """Two 3x3 convolutions with group norms, the step added between them, and a skip."""

    def __init__(self, cin, cout, tdim):
        super().__init__()
        self.norm1 = nn.GroupNorm(8, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.step = nn.Linear(tdim, cout)
        self.norm2 = nn.GroupNorm(8, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.step(temb)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + self.skip(x)


class UNet(nn.Module):
    """A U-Net over 28x28 (or any size divisible by 4): widths w, 2w, 2w at
    full, half and quarter resolution, one block a level each way."""

    def __init__(self, width=32):
        super().__init__()
        tdim = 4 * width
        self.width = width
        self.time = nn.Sequential(nn.Linear(width, tdim), nn.SiLU(), nn.Linear(tdim, tdim))
        w1, w2 = width, 2 * width
        self.stem = nn.Conv2d(1, w1, 3, padding=1)
        self.down1 = Block(w1, w1, tdim)
        self.pool1 = nn.Conv2d(w1, w1, 3, stride=2, padding=1)
        self.down2 = Block(w1, w2, tdim)
        self.pool2 = nn.Conv2d(w2, w2, 3, stride=2, padding=1)
        self.mid1 = Block(w2, w2, tdim)
        self.mid2 = Block(w2, w2, tdim)
        self.up2 = Block(2 * w2, w2, tdim)
        self.up1 = Block(w2 + w1, w1, tdim)
        self.out = nn.Sequential(nn.GroupNorm(8, w1), nn.SiLU(), nn.Conv2d(w1, 1, 3, padding=1))

    def forward(self, x, t):
        temb = self.time(timestep_features(t, self.width))
        h0 = self.down1(self.stem(x), temb)
        h1 = self.down2(self.pool1(h0), temb)
        h = self.mid2(self.mid1(self.pool2(h1), temb), temb)
        h = F.interpolate(h, size=h1.shape[-2:], mode="nearest")
        h = self.up2(torch.cat([h, h1], dim=1), temb)
        h = F.interpolate(h, size=h0.shape[-2:], mode="nearest")
        h = self.up1(torch.cat([h, h0], dim=1), temb)
        return self.out(h)


def schedule(steps, dev):
    """The cumulative products of 1 - beta of the linear schedule 1e-4 .. 0.02."""
    betas = torch.linspace(1e-4, 0.02, steps, device=dev, dtype=torch.float64)
    return torch.cumprod(1.0 - betas, dim=0).float()


def save_atomically(path, save):
    """Writes a file through `save(temporary path)`, then moves it into place."""
    partial = path + ".partial"
    save(partial)
    os.replace(partial, path)


def train(args):
    dev = device()
    torch.manual_seed(args.seed)
    images = np.load(args.data)
    n, height, width = images.shape
    data = torch.from_numpy(images).to(dev).unsqueeze(1) * 2.0 - 1.0
    model = UNet(args.width).to(dev)
    ema = UNet(args.width).to(dev)
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    abar = schedule(args.steps, dev)
    started, step = time.time(), 0
    for epoch in range(args.epochs):
        order = torch.randperm(n, device=dev)
        total = 0.0
        for i in range(0, n, args.batch_size):
            x0 = data[order[i : i + args.batch_size]]
            t = torch.randint(0, args.steps, (x0.shape[0],), device=dev)
            noise = torch.randn_like(x0)
            a = abar[t][:, None, None, None]
            xt = a.sqrt() * x0 + (1.0 - a).sqrt() * noise
            loss = F.mse_loss(model(xt, t), noise)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            # The average warms up, so that a short training is not its initial weights.
            step += 1
            decay = min(args.ema, (1.0 + step) / (10.0 + step))
            with torch.no_grad():
                for e, p in zip(ema.parameters(), model.parameters()):
                    e.lerp_(p, 1.0 - decay)
            total += loss.item() * x0.shape[0]
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total / n:.4f} ({time.time() - started:.1f} s)", flush=True)
    os.makedirs(args.out, exist_ok=True)
    config = {"width": args.width, "steps": args.steps, "shape": [height, width]}
    save_atomically(os.path.join(args.out, "ema.pt"), lambda p: torch.save(ema.state_dict(), p))
    with open(os.path.join(args.out, "config.json.partial"), "w") as f:
        json.dump(config, f)
    os.replace(os.path.join(args.out, "config.json.partial"), os.path.join(args.out, "config.json"))


@torch.no_grad()
def sample(args):
    dev = device()
    with open(os.path.join(args.model, "config.json")) as f:
        config = json.load(f)
    model = UNet(config["width"]).to(dev)
    model.load_state_dict(torch.load(os.path.join(args.model, "ema.pt"), map_location=dev))
    model.eval()
    abar = schedule(config["steps"], dev)
    height, width = config["shape"]
    # DDIM's deterministic steps from T-1 down to 0; then the last estimate of x0.
    steps = torch.linspace(config["steps"] - 1, 0, args.sample_steps, device=dev).round().long()
    generator = torch.Generator(device=dev).manual_seed(args.seed)
    out = np.empty((args.count, height, width), dtype=np.float32)
    for i in range(0, args.count, args.batch_size):
        m = min(args.batch_size, args.count - i)
        x = torch.randn((m, 1, height, width), device=dev, generator=generator)
        for k, t in enumerate(steps):
            a = abar[t]
            eps = model(x, t.repeat(m))
            x0 = ((x - (1.0 - a).sqrt() * eps) / a.sqrt()).clamp(-1.0, 1.0)
            if k + 1 < len(steps):
                a_next = abar[steps[k + 1]]
                x = a_next.sqrt() * x0 + (1.0 - a_next).sqrt() * eps
        out[i : i + m] = ((x0 + 1.0) / 2.0).squeeze(1).clamp(0.0, 1.0).cpu().numpy()
    def write(path):
        with open(path, "wb") as f:
            np.save(f, out)

    save_atomically(args.out, write)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    t = commands.add_parser("train")
    t.add_argument("--data", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--seed", type=int, required=True)
    t.add_argument("--epochs", type=int, default=20)
    t.add_argument("--steps", type=int, default=1000, help="diffusion steps T")
    t.add_argument("--width", type=int, default=32, help="channels at full resolution")
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--lr", type=float, default=2e-4)
    t.add_argument("--ema", type=float, default=0.999, help="decay of the weights' moving average")
    s = commands.add_parser("sample")
    s.add_argument("--model", required=True)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--sample-steps", type=int, default=50, help="DDIM steps")
    s.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    {"train": train, "sample": sample}[args.command](args)


if __name__ == "__main__":
    main()
