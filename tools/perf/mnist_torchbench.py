#!/usr/bin/python3
"""The PyTorch half of tools/perf/mnist_vs_pytorch: torchbench's MNIST benchmark, as a
user of torchbench runs it, on the LeNet-5 weights of examples/models/.

It follows torchbench.image_classification.MNIST.benchmark and evaluate_classification
(torchvision MNIST test split, ToTensor + Normalize((0.1307,), (0.3081,)), DataLoader with
pin_memory, AverageMeter + top-k accuracy, timing from before the first batch to after the
last) without the parts that need sotabench.com (run-hash lookup) or tqdm (not packaged
with Debian's torch). The last line of stdout is one JSON object:
  {"correct": N, "total": 10000, "top1": f, "top5": f, "eval_seconds": s}
"""
import argparse
import json
import os
import sys
import time

import torch
import torchvision.datasets as datasets
import torchvision.transforms as transforms
from torch.utils.data import DataLoader

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import safetensors_lite  # noqa: E402
from mnist_lenet5 import lenet5  # noqa: E402


class AverageMeter:
    def __init__(self):
        self.sum, self.count, self.avg = 0.0, 0, 0.0

    def update(self, val, n=1):
        self.sum += val * n
        self.count += n
        self.avg = self.sum / self.count


def accuracy(output, target, topk=(1,)):
    maxk = max(topk)
    batch_size = target.size(0)
    _, pred = output.topk(maxk, 1, True, True)
    pred = pred.t()
    correct = pred.eq(target.view(1, -1).expand_as(pred))
    return [correct[:k].reshape(-1).float().sum(0).mul_(100.0 / batch_size) for k in topk]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--weights", required=True)
    p.add_argument("--data-root", required=True, help="ROOT with ROOT/MNIST/raw/<idx files>")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--num-workers", type=int, default=0)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    model = lenet5()
    model.load_state_dict(safetensors_lite.load(args.weights)[0])
    model.eval()

    input_transform = transforms.Compose([transforms.ToTensor(),
                                          transforms.Normalize((0.1307,), (0.3081,))])
    dataset = datasets.MNIST(args.data_root, train=False, transform=input_transform,
                             download=False)
    loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=False,
                        num_workers=args.num_workers, pin_memory=True)

    top1, top5 = AverageMeter(), AverageMeter()
    correct = 0
    init_time = time.time()
    with torch.no_grad():
        for input, target in loader:
            output = model(input)
            prec1, prec5 = accuracy(output, target, topk=(1, 5))
            top1.update(prec1.item(), input.size(0))
            top5.update(prec5.item(), input.size(0))
            correct += int((output.argmax(1) == target).sum())
    eval_seconds = time.time() - init_time
    print(json.dumps({"correct": correct, "total": len(dataset), "top1": top1.avg / 100,
                      "top5": top5.avg / 100, "eval_seconds": eval_seconds}))


if __name__ == "__main__":
    main()
