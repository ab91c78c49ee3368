#!/usr/bin/python3
"""PyTorch's side of bench/train_vs_pytorch.sh: the same recipe as
`rumor train`, in PyTorch's usual CPU loop, timed the same way.

The data is loaded once into a float tensor scaled to [0, 1] (PyTorch's
DataLoader would only add overhead), each epoch draws a fresh permutation,
and only the training loop is timed (evaluation is outside it, as in rumor).
Prints one JSON line: samples_per_second, train_seconds, test_accuracy.
"""
import argparse
import gzip
import json
import time

import numpy as np
import torch
from torch import nn


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--hidden", type=int, nargs="*", default=[128])
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--interop", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(a.interop)
    torch.manual_seed(a.seed)
    xtr = torch.from_numpy(read_idx(f"{a.data}/train-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255.0)
    ytr = torch.from_numpy(read_idx(f"{a.data}/train-labels-idx1-ubyte.gz").astype(np.int64))
    xte = torch.from_numpy(read_idx(f"{a.data}/t10k-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255.0)
    yte = torch.from_numpy(read_idx(f"{a.data}/t10k-labels-idx1-ubyte.gz").astype(np.int64))

    layers, width = [], 784
    for h in a.hidden:
        layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(a.dropout)]
        width = h
    layers.append(nn.Linear(width, 10))
    model = nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()

    n = xtr.shape[0]
    train_seconds = 0.0
    for _ in range(a.epochs):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        for i in range(0, n, a.batch):
            idx = perm[i:i + a.batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
        train_seconds += time.perf_counter() - t0
    model.eval()
    with torch.no_grad():
        acc = (model(xte).argmax(1) == yte).float().mean().item()
    print(json.dumps({"samples_per_second": n * a.epochs / train_seconds,
                      "train_seconds": train_seconds, "test_accuracy": acc,
                      "threads": a.threads, "interop": a.interop}))


if __name__ == "__main__":
    main()
