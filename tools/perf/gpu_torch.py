"""The PyTorch side of tools/perf/gpu: the same measurements as gpu_bench.lua on the same
GPU (torch.mm with TF32 off, bf16 mm, pinned/pageable host-to-device copies, LeNet-5 over
the 10k MNIST test images in batches of 128, the small ResNet at batch 1024).
Prints "torch_<name><TAB>value<TAB>unit" lines.

Usage: python3 tools/perf/gpu_torch.py [MNIST_ROOT] [SOURCE_DIR]
"""
import os
import sys
import time

import torch

root = sys.argv[1] if len(sys.argv) > 1 else "./.data/vision/mnist"
src = sys.argv[2] if len(sys.argv) > 2 else "."
sys.path.insert(0, os.path.join(src, "tools", "lib"))
sys.path.insert(0, os.path.join(src, "tools", "fixtures"))
import safetensors_lite  # noqa: E402
from mnist_lenet5 import lenet5, read_idx  # noqa: E402
from nn_resnet import SmallResNet  # noqa: E402

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
# SB_PERF_DEVICE=cpu and SB_PERF_GEMM_N=256 let the script be tried without a GPU.
dev = torch.device(os.environ.get("SB_PERF_DEVICE", "cuda"))


def sync():
    if dev.type == "cuda":
        torch.cuda.synchronize()


def report(name, value, unit):
    print("torch_%s\t%.6g\t%s" % (name, value, unit), flush=True)


def timed(fn, runs, warmup=2):
    for _ in range(warmup):
        fn()
    sync()
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        sync()
        samples.append(time.perf_counter() - t0)
    samples.sort()
    return samples[(runs - 1) // 2]


with torch.no_grad():
    n = int(os.environ.get("SB_PERF_GEMM_N", "8192"))
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    t = timed(lambda: a @ b, 10)
    report("sgemm_%d" % n, 2 * n ** 3 / t / 1e12, "TFLOP/s")
    ah, bh = a.bfloat16(), b.bfloat16()
    t = timed(lambda: ah @ bh, 10)
    report("bf16_gemm_%d" % n, 2 * n ** 3 / t / 1e12, "TFLOP/s")
    del a, b, ah, bh

    host = torch.rand(64, 1024, 1024)
    pinned = host.pin_memory() if dev.type == "cuda" else host
    nbytes = host.numel() * 4
    t = timed(lambda: pinned.to(dev, non_blocking=True), 10)
    report("h2d_pinned_256MiB", nbytes / t / 1e9, "GB/s")
    t = timed(lambda: host.to(dev), 10)
    report("h2d_pageable_256MiB", nbytes / t / 1e9, "GB/s")
    del host, pinned

    raw = os.path.join(root, "MNIST", "raw")
    if os.path.exists(os.path.join(raw, "t10k-images-idx3-ubyte")):
        images, source = read_idx(raw, "t10k-images-idx3-ubyte").reshape(10000, 1, 28, 28), "mnist"
    else:
        images, source = (torch.rand(10000, 1, 28, 28) * 255).to(torch.uint8), "synthetic"
    if dev.type == "cuda":
        images = images.pin_memory()
    lenet = lenet5()
    state, _ = safetensors_lite.load(os.path.join(src, "examples", "models", "lenet5_mnist.safetensors"))
    lenet.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
    lenet = lenet.to(dev).eval()
    batches = [images[s:s + 128] for s in range(0, 10000, 128)]

    def lenet_pass():
        for x in batches:
            g = (x.to(dev, non_blocking=True).float() / 255 - 0.1307) / 0.3081
            lenet(g).argmax(1)

    t = timed(lenet_pass, 5, 1)
    report("lenet5_mnist10k_" + source, 10000 / t, "images/s")

    resnet = SmallResNet()
    state, _ = safetensors_lite.load(
        os.path.join(src, "tests", "fixtures", "nn", "small_resnet.safetensors"))
    resnet.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()}, strict=False)
    resnet = resnet.to(dev).eval()
    x = torch.randn(1024, 3, 32, 32, device=dev)
    t = timed(lambda: resnet(x), 10)
    report("small_resnet_b1024", 1024 / t, "images/s")
    if dev.type == "cuda":
        report("max_allocated", torch.cuda.max_memory_allocated() / 2 ** 20, "MiB")
