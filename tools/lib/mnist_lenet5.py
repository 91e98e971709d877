"""The example LeNet-5 and the MNIST IDX files, as the Python tools (training, fixtures,
the PyTorch side of the perf comparisons) all need them.

lenet5() is the architecture of examples/models/lenet5.lua as an nn.Sequential, so the
state_dict keys (0.weight, 3.weight, 7.weight, ...) match lenet5_mnist.safetensors.
Only torch is imported (no numpy), so timing a script that imports this stays honest.
"""
import gzip
import os
import struct

import torch
from torch import nn

MEAN, STD = 0.1307, 0.3081  # torchvision's Normalize((0.1307,), (0.3081,)) for MNIST


def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def read_idx(raw_dir, name):
    """The IDX file raw_dir/name (or name.gz) as a uint8 tensor of its dims."""
    path = os.path.join(raw_dir, name)
    opener = open
    if not os.path.exists(path):
        path += ".gz"
        opener = gzip.open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]  # the magic number's last byte; its third says uint8 (0x08)
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def normalise(images_u8):
    """ToTensor + Normalize: uint8 pixels to float32, (x / 255 - MEAN) / STD."""
    return images_u8.float().div(255).sub(MEAN).div(STD)
