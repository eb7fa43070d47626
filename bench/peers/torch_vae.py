"""The PyTorch peer of `collapse bench`: the same three VAEs, loss, optimiser,
data and measurements, so that `bench/compare.sh` can run both side by side.

Models (as crates/vae/src/model.rs):
  mlp       784-400-20        Linear+ReLU encoder, two Linear heads, mirrored decoder
  mlp-deep  784-512-256-16
  conv      Conv2d(1->64,k4,s2,p1)-ReLU-Conv2d(64->128,k4,s2,p1)-ReLU-flatten-Linear heads;
            Linear->128x7x7-ConvT(128->64,k4,s2,p1)-ReLU-ConvT(64->1,k4,s2,p1)
Loss (crates/vae/src/loss.rs): BCE-with-logits summed over pixels + KL, summed
over the batch. Adam lr 1e-3, eps 1e-8, L2 weight decay 1e-5 (collapse's
TrainConfig defaults). Data: uniform random images held as one tensor, batches
taken by index with a random permutation per epoch (no DataLoader). The batch
loss is read every 25 steps and the epoch's summed loss at its end, as
collapse's training loop does.

Measurements (as crates/core/bench.rs): training images/s (one warm-up epoch,
median of REPEATS timed epochs of STEPS batches), sampling (decode SAMPLES
images from N(0, I) in batches of 1,000), the probe (encode SAMPLES images in
batches of 1,000), the frozen classifier's network (crates/eval/src/classifier.rs,
random weights), each one warm-up pass then the median of REPEATS; peak memory
(VmHWM); CPU time over wall time of training. `--peak` measures the machine's
f32 matmul rate instead. `--device cuda` runs everything on the GPU (the
timers wait for the GPU to finish; peak memory is then the GPU's).
"""

import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")

import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

PIXELS = 28 * 28
EVAL_BATCH = 1000
CHECK_EVERY = 25
# Where the tensors live: "cpu" or "cuda", set once from --device.
DEVICE = torch.device("cpu")


def sync():
    """Wait for the GPU's queued work, so that a timer sees it finished."""
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


class MlpVae(nn.Module):
    def __init__(self, hidden, latent):
        super().__init__()
        widths = [PIXELS, *hidden]
        self.encoder = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.mu = nn.Linear(widths[-1], latent)
        self.logvar = nn.Linear(widths[-1], latent)
        back = [latent, *reversed(hidden)]
        self.decoder = nn.ModuleList(nn.Linear(a, b) for a, b in zip(back, back[1:]))
        self.output = nn.Linear(back[-1], PIXELS)

    def encode(self, x):
        for layer in self.encoder:
            x = F.relu(layer(x))
        return self.mu(x), self.logvar(x)

    def decode(self, z):
        for layer in self.decoder:
            z = F.relu(layer(z))
        return self.output(z)


class ConvVae(nn.Module):
    def __init__(self, latent=20, channels=(64, 128)):
        super().__init__()
        c1, c2 = channels
        self.feature_shape = (c2, 7, 7)
        flat = c2 * 7 * 7
        self.conv1 = nn.Conv2d(1, c1, 4, stride=2, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 4, stride=2, padding=1)
        self.mu = nn.Linear(flat, latent)
        self.logvar = nn.Linear(flat, latent)
        self.expand = nn.Linear(latent, flat)
        self.deconv1 = nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1)
        self.deconv2 = nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1)

    def encode(self, x):
        h = x.reshape(-1, 1, 28, 28)
        h = F.relu(self.conv2(F.relu(self.conv1(h)))).flatten(1)
        return self.mu(h), self.logvar(h)

    def decode(self, z):
        h = self.expand(z).reshape(-1, *self.feature_shape)
        return self.deconv2(F.relu(self.deconv1(h))).flatten(1)


class Classifier(nn.Module):
    """crates/eval's frozen classifier: two 5x5 convolutions (16, 32 channels),
    ReLU and 2x2 max pooling each, a 128-wide hidden layer, 10 classes."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5, padding=2)
        self.conv2 = nn.Conv2d(16, 32, 5)
        self.hidden = nn.Linear(32 * 5 * 5, 128)
        self.output = nn.Linear(128, 10)

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.conv1(x.reshape(-1, 1, 28, 28))), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        features = F.relu(self.hidden(h.flatten(1)))
        return features, F.softmax(self.output(features), dim=1)


MODELS = {
    "mlp": (lambda: MlpVae([400], 20), 20),
    "mlp-deep": (lambda: MlpVae([512, 256], 16), 16),
    "conv": (lambda: ConvVae(), 20),
}


def forward(model, x):
    mu, logvar = model.encode(x)
    z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
    return model.decode(z), mu, logvar


def loss_fn(logits, mu, logvar, x):
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kl = 0.5 * torch.sum(mu.square() + logvar.exp() - logvar - 1.0)
    return recon + kl


def train_epoch(model, optim, images, batch):
    """One epoch of collapse's training loop; returns images/s."""
    started = time.perf_counter()
    n = images.shape[0]
    order = torch.randperm(n, device=DEVICE)
    total = None
    for step, start in enumerate(range(0, n, batch), 1):
        x = images[order[start : start + batch]]
        loss = loss_fn(*forward(model, x), x)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        value = loss.detach()
        if step % CHECK_EVERY == 0 or start + batch >= n:
            value.item()
        total = value if total is None else total + value
        optim.step()
    total.item()
    return n / (time.perf_counter() - started)


def rate(count, repeats, work):
    """Images/s of `work` (count images): one warm-up pass, median of `repeats`."""

    def timed():
        started = time.perf_counter()
        work()
        sync()
        return count / (time.perf_counter() - started)

    timed()
    return statistics.median(timed() for _ in range(repeats))


def in_batches(images, fn):
    return [fn(images[s : s + EVAL_BATCH]) for s in range(0, images.shape[0], EVAL_BATCH)]


def vm_hwm_mib():
    if DEVICE.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return None


def cpu_seconds():
    t = os.times()
    return t.user + t.system


def forward_macs(model):
    """Multiply-adds of one image's forward pass (encoder, z, decoder), counted
    from the shapes each Linear / Conv2d / ConvTranspose2d layer sees."""
    macs = 0

    def hook(layer, inputs, output):
        nonlocal macs
        if isinstance(layer, nn.Linear):
            macs += layer.in_features * layer.out_features
        elif isinstance(layer, nn.Conv2d):
            k = layer.kernel_size[0] * layer.kernel_size[1]
            macs += output.numel() * layer.in_channels * k // layer.groups
        elif isinstance(layer, nn.ConvTranspose2d):
            k = layer.kernel_size[0] * layer.kernel_size[1]
            macs += inputs[0].numel() * layer.out_channels * k // layer.groups

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    with torch.no_grad():
        forward(model, torch.rand(1, PIXELS))
    for h in handles:
        h.remove()
    return macs


def measure_row(name, batch, args):
    make, latent = MODELS[name]
    torch.manual_seed(0)
    images = torch.rand(batch * args.steps, PIXELS).to(DEVICE)
    model = make()
    params = sum(p.numel() for p in model.parameters())
    macs = forward_macs(model)
    model = model.to(DEVICE)
    optim = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8, weight_decay=1e-5)
    cpu_before, started = cpu_seconds(), time.perf_counter()
    rates = [train_epoch(model, optim, images, batch) for _ in range(args.repeats + 1)][1:]
    cores_busy = (cpu_seconds() - cpu_before) / (time.perf_counter() - started)
    with torch.no_grad():
        sampling = rate(
            args.samples,
            args.repeats,
            lambda: torch.cat(
                [
                    torch.sigmoid(model.decode(torch.randn(min(EVAL_BATCH, args.samples - s), latent, device=DEVICE)))
                    for s in range(0, args.samples, EVAL_BATCH)
                ]
            ),
        )
        probe_images = torch.rand(args.samples, PIXELS).to(DEVICE)
        probe = rate(
            args.samples,
            args.repeats,
            lambda: [torch.cat(p) for p in zip(*in_batches(probe_images, model.encode))],
        )
    return {
        "model": name,
        "batch": batch,
        "params": params,
        "forward_macs_per_image": macs,
        "train_flops_per_image": 2 * 3 * macs,
        "train_images_per_sec": statistics.median(rates),
        "train_runs_images_per_sec": rates,
        "train_cores_busy": cores_busy,
        "sample_images_per_sec": sampling,
        "probe_images_per_sec": probe,
        "peak_rss_mib": vm_hwm_mib(),
    }


def measure_classifier(args):
    classifier = Classifier().to(DEVICE)
    images = torch.rand(args.samples, PIXELS).to(DEVICE)
    with torch.no_grad():
        return rate(
            args.samples,
            args.repeats,
            lambda: [torch.cat(p) for p in zip(*in_batches(images, classifier))],
        )


def measure_peak(n, repeats):
    """f32 matmul rate of an n x n product, GFLOP/s (one warm-up, median)."""
    a, b = torch.rand(n, n).to(DEVICE), torch.rand(n, n).to(DEVICE)

    def timed():
        started = time.perf_counter()
        torch.mm(a, b)
        sync()
        return 2 * n**3 / (time.perf_counter() - started) / 1e9

    timed()
    return statistics.median(timed() for _ in range(repeats))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="mlp,mlp-deep,conv")
    p.add_argument("--batch-size", default="128,256")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--samples", type=int, default=10_000)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--no-classifier", action="store_true")
    p.add_argument("--peak", type=int, metavar="N", help="measure an N x N f32 matmul instead")
    p.add_argument("--json", help="also write the measurements as JSON to this file")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = p.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    if DEVICE.type == "cuda" and not torch.cuda.is_available():
        sys.exit("torch_vae.py: --device cuda, but torch sees no CUDA device")
    torch.set_num_threads(args.threads)
    record = {
        "tool": "torch",
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "threads": torch.get_num_threads(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "device": torch.cuda.get_device_name() if DEVICE.type == "cuda" else "cpu",
        # Whether cuDNN's convolutions and cuBLAS's matmuls may round f32 inputs to TF32
        # (PyTorch's defaults: convolutions yes, matmuls no); they apply on CUDA only.
        "tf32": {
            "cudnn": torch.backends.cudnn.allow_tf32,
            "matmul": torch.backends.cuda.matmul.allow_tf32,
        },
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": sys.argv,
    }
    if args.peak:
        gflops = measure_peak(args.peak, args.repeats)
        print(f"peak: {args.peak}x{args.peak} f32 matmul, {record['threads']} threads: {gflops:.1f} GFLOP/s")
        record.update(matmul_n=args.peak, peak_gflops=gflops)
    else:
        print(
            f"torch {torch.__version__} on {record['device']}, {record['threads']} threads; {args.steps} steps x "
            f"{args.repeats} timed epochs after 1 warm-up; {args.samples} images per sampling, "
            f"probe and classifier pass, in batches of {EVAL_BATCH}"
        )
        print(
            f"{'model':<9} {'batch':>5} {'params':>9} {'train im/s':>10} {'cores busy':>11} "
            f"{'sample/s':>9} {'probe im/s':>11} {'peak MiB':>9}"
        )
        rows = []
        for name in args.model.split(","):
            for batch in map(int, args.batch_size.split(",")):
                r = measure_row(name, batch, args)
                print(
                    f"{name:<9} {batch:>5} {r['params']:>9} {r['train_images_per_sec']:>10.0f} "
                    f"{r['train_cores_busy']:>11.2f} {r['sample_images_per_sec']:>9.0f} "
                    f"{r['probe_images_per_sec']:>11.0f} {r['peak_rss_mib']:>9.0f}"
                )
                rows.append(r)
        record.update(steps=args.steps, repeats=args.repeats, samples=args.samples, rows=rows)
        if not args.no_classifier:
            record["classifier_images_per_sec"] = measure_classifier(args)
            print(f"frozen classifier: {record['classifier_images_per_sec']:.0f} images/s")
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(record, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, args.json)


if __name__ == "__main__":
    main()
