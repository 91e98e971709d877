#!/usr/bin/python3
"""Trains the example LeNet-5 on MNIST and writes its weights as safetensors.

    tools/train/lenet5_mnist.py [MNIST_DIR] [--epochs N] [--out PATH] [--fixture PATH]
    tools/train/lenet5_mnist.py --fixture-only      # recompute the fixture from the weights

MNIST_DIR holds the IDX files (plain or .gz) or is a torchvision root (ROOT/MNIST/raw);
default /work/main/.data/vision/mnist/MNIST/raw, then ./.data/vision/mnist/MNIST/raw.
No network. Deterministic on one machine (seeded, 2 threads). Writes:
  examples/models/lenet5_mnist.safetensors        PyTorch state_dict keys (0.weight, ...)
  tests/fixtures/nn/lenet5_mnist_first512.safetensors
      images U8 [512,1,28,28] (the first 512 test images), labels I64 [512],
      logits F32 [512,10] (this model's outputs on them, normalised as below)
Inputs are normalised as torchvision's ToTensor + Normalize((0.1307,), (0.3081,)).
"""
import argparse
import os
import sys
import time

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tools", "lib"))
import safetensors_lite  # noqa: E402
from mnist_lenet5 import lenet5, normalise, read_idx  # noqa: E402

def find_raw_dir(arg):
    candidates = [arg] if arg else [
        "/work/main/.data/vision/mnist/MNIST/raw",
        os.path.join(REPO, ".data/vision/mnist/MNIST/raw")]
    for c in candidates:
        for d in (c, os.path.join(c, "MNIST", "raw")):
            if os.path.exists(os.path.join(d, "t10k-labels-idx1-ubyte")) or \
               os.path.exists(os.path.join(d, "t10k-labels-idx1-ubyte.gz")):
                return d
    sys.exit("lenet5_mnist.py: no MNIST IDX files under %s (run tools/fetch-mnist)" % candidates)


def load_split(raw_dir, split):
    images = read_idx(raw_dir, "%s-images-idx3-ubyte" % split).unsqueeze(1)  # N,1,28,28 uint8
    labels = read_idx(raw_dir, "%s-labels-idx1-ubyte" % split).long()
    return images, labels


def evaluate(model, images, labels):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(images), 1000):
            out = model(normalise(images[i:i + 1000]))
            correct += (out.argmax(1) == labels[i:i + 1000]).sum().item()
    return correct / len(images)


def write_fixture(model, test_images, test_labels, path):
    model.eval()
    images = test_images[:512].contiguous()
    with torch.no_grad():
        logits = model(normalise(images))
    safetensors_lite.save({"images": images, "labels": test_labels[:512].contiguous(),
                           "logits": logits.contiguous()}, path,
                          metadata={"source": "tools/train/lenet5_mnist.py",
                                    "normalise": "x/255, (x-0.1307)/0.3081"})
    print("wrote", path)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mnist_dir", nargs="?")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=os.path.join(REPO, "examples/models/lenet5_mnist.safetensors"))
    p.add_argument("--fixture", default=os.path.join(REPO, "tests/fixtures/nn/lenet5_mnist_first512.safetensors"))
    p.add_argument("--fixture-only", action="store_true")
    args = p.parse_args()

    torch.set_num_threads(2)  # the machine is shared
    torch.manual_seed(args.seed)
    raw = find_raw_dir(args.mnist_dir)
    test_images, test_labels = load_split(raw, "t10k")
    model = lenet5()

    if args.fixture_only:
        weights, _ = safetensors_lite.load(args.out)
        model.load_state_dict(weights)
        print("test top-1: %.4f" % evaluate(model, test_images, test_labels))
        write_fixture(model, test_images, test_labels, args.fixture)
        return

    train_images, train_labels = load_split(raw, "train")
    train_x = normalise(train_images)
    gen = torch.Generator().manual_seed(args.seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.3)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(train_x), generator=gen)
        total = 0.0
        for i in range(0, len(perm), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss = loss_fn(model(train_x[idx]), train_labels[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        sched.step()
        acc = evaluate(model, test_images, test_labels)
        print("epoch %d: loss %.4f test top-1 %.4f (%.1f s)" % (epoch + 1, total / len(perm), acc, time.time() - t0))
    acc = evaluate(model, test_images, test_labels)
    if acc < 0.985:
        sys.exit("lenet5_mnist.py: test top-1 %.4f is below 0.985; not writing weights" % acc)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    safetensors_lite.save(state, args.out, metadata={
        "model": "LeNet-5 (tools/train/lenet5_mnist.py)", "test_top1": "%.4f" % acc,
        "epochs": str(args.epochs), "seed": str(args.seed)})
    print("wrote %s (test top-1 %.4f)" % (args.out, acc))
    write_fixture(model, test_images, test_labels, args.fixture)


if __name__ == "__main__":
    main()
