"""The PyTorch side of tools/perf/gpu: the same measurements as gpu_bench.lua on the same GPU,
under the same rules: torch.mm of random matrices with TF32 off, bf16 mm, pinned and pageable
host-to-device copies, LeNet-5 over the 10k MNIST test images (the same IDX file, found in the
same order, copied from pinned memory in batches of 128), ResNet-18/50 evaluation at a large
batch, the peak memory counter reset before each model section.
Prints "torch_<name><TAB>value<TAB>unit" lines and "#file<TAB>path" for the MNIST file read.

Usage: python3 tools/perf/gpu_torch.py [MNIST_ROOT] [SOURCE_DIR]
Env: SB_PERF_DEVICE (cuda; "cpu" tries the script without a GPU), SB_PERF_GEMM_N (8192),
SB_PERF_RESNET_BATCH (1024), SB_PERF_RUNS (10).
"""
import gc
import os
import sys
import time

import torch

root = sys.argv[1] if len(sys.argv) > 1 else "./.data/vision/mnist"
src = sys.argv[2] if len(sys.argv) > 2 else "."
sys.path.insert(0, os.path.join(src, "tools", "lib"))
import safetensors_lite  # noqa: E402
from mnist_lenet5 import lenet5, read_idx  # noqa: E402

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
# sbengine picks each convolution's cuDNN algorithm by timing the candidates once per shape
# (cudnnFind); PyTorch does the same with benchmark mode, which is what a fair comparison needs.
torch.backends.cudnn.benchmark = True
dev = torch.device(os.environ.get("SB_PERF_DEVICE", "cuda"))
gpu = dev.type == "cuda"
if gpu and not torch.cuda.is_available():
    print("gpu_torch: no usable GPU, nothing measured", file=sys.stderr)
    sys.exit(77)
runs = int(os.environ.get("SB_PERF_RUNS", "10"))


def sync():
    if gpu:
        torch.cuda.synchronize()


def report(name, value, unit):
    print("torch_%s\t%.6g\t%s" % (name, value, unit), flush=True)


def timed(fn, n, warmup=2):
    for _ in range(warmup):
        fn()
    sync()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        sync()
        samples.append(time.perf_counter() - t0)
    samples.sort()
    return samples[(n - 1) // 2]


def section():
    """As gpu_bench.lua: garbage collected, cache emptied, peak counter reset."""
    gc.collect()
    if gpu:
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def report_peak(name):
    if gpu:
        report("peak_" + name, torch.cuda.max_memory_allocated() / 2 ** 20, "MiB")


def mnist_file():
    """The test images as sb.data.MNIST finds them: MNIST/raw/ before the root, plain before .gz."""
    name = "t10k-images-idx3-ubyte"
    for path in (os.path.join(root, "MNIST", "raw", name), os.path.join(root, "MNIST", "raw", name + ".gz"),
                 os.path.join(root, name), os.path.join(root, name + ".gz")):
        if os.path.exists(path):
            return path
    return None


with torch.no_grad():
    section()
    n = int(os.environ.get("SB_PERF_GEMM_N", "8192"))
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    t = timed(lambda: a @ b, runs)
    report("sgemm_%d" % n, 2 * n ** 3 / t / 1e12, "TFLOP/s")
    ah, bh = a.bfloat16(), b.bfloat16()
    t = timed(lambda: ah @ bh, runs)
    report("bf16_gemm_%d" % n, 2 * n ** 3 / t / 1e12, "TFLOP/s")
    del a, b, ah, bh

    section()
    if gpu:
        host = torch.rand(64, 1024, 1024)
        pinned = host.pin_memory()
        nbytes = host.numel() * 4
        t = timed(lambda: pinned.to(dev, non_blocking=True), runs)
        report("h2d_pinned_256MiB", nbytes / t / 1e9, "GB/s")
        t = timed(lambda: host.to(dev), runs)
        report("h2d_pageable_256MiB", nbytes / t / 1e9, "GB/s")
        del host, pinned

    section()
    path = mnist_file()
    if path:
        raw, name = os.path.split(path)
        images, source = read_idx(raw, name[:-3] if name.endswith(".gz") else name), "mnist"
        images = images.reshape(10000, 1, 28, 28)
    else:
        images, source, path = (torch.rand(10000, 1, 28, 28) * 255).to(torch.uint8), "synthetic", "synthetic"
    print("#file\t" + path, flush=True)
    if gpu:
        images = images.pin_memory()  # as sbengine's DataLoader batch with pin_memory
    lenet = lenet5()
    state, _ = safetensors_lite.load(os.path.join(src, "examples", "models", "lenet5_mnist.safetensors"))
    lenet.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
    lenet = lenet.to(dev).eval()
    batches = [images[s:s + 128] for s in range(0, 10000, 128)]

    def lenet_pass():
        for x in batches:
            g = (x.to(dev, non_blocking=True).float() / 255 - 0.1307) / 0.3081
            lenet(g).argmax(1)

    t = timed(lenet_pass, max(1, runs // 2), 1)
    report("lenet5_mnist10k_" + source, 10000 / t, "images/s")
    report_peak("lenet5")
    del lenet, batches, images

    import torchvision  # only here: the rest runs without it

    batch = int(os.environ.get("SB_PERF_RESNET_BATCH", "1024"))
    if gpu:
        v = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        print("#cudnn\t%s" % (v if v else "none"), flush=True)
    for name in ("resnet18", "resnet50"):
        section()
        net = getattr(torchvision.models, name)(weights=None).to(dev).eval()
        x = torch.randn(batch, 3, 224, 224, device=dev)
        t = timed(lambda: net(x), max(1, runs // 2), 1)
        report("%s_b%d" % (name, batch), batch / t, "images/s")
        report_peak("%s_b%d" % (name, batch))
        del net, x
