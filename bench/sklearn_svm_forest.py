#!/usr/bin/python3
"""scikit-learn's side of bench/svm_forest_vs_sklearn.sh.

Fits LinearSVC(C=1) or RandomForestClassifier(n_estimators=100,
max_depth=20, n_jobs=2) on Fashion-MNIST's standard 60,000/10,000 split,
pixels scaled to [0, 1] (x / 255), and prints one JSON line: test accuracy,
fit seconds (the fit call alone, on a monotonic clock), predict seconds.

usage: sklearn_svm_forest.py linearsvc|forest [--dual] [--data DIR] [--seed S]

LinearSVC runs liblinear's primal solver (dual=False, `liblinear-train -s 2`),
the faster of its two for 60,000 rows of 784 features: 25 Newton iterations,
137 s here under load, where scikit-learn 1.2's default dual=True stops at
max_iter=1000 after 465 s with the same 84.0% accuracy. --dual picks that
default instead.
Needs Debian's python3-sklearn (scripts/deps.sh --bench); run it with
/usr/bin/python3, whose site-packages hold it.
"""
import argparse
import gzip
import json
import os
import sys
import time

import numpy as np


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndims = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndims).reshape(dims)


def find(directory, name):
    for candidate in (name, name + ".gz"):
        path = os.path.join(directory, candidate)
        if os.path.exists(path):
            return path
    sys.exit(f"{directory}: no {name}[.gz]")


def load(directory):
    def part(prefix):
        x = read_idx(find(directory, prefix + "-images-idx3-ubyte"))
        y = read_idx(find(directory, prefix + "-labels-idx1-ubyte"))
        return x.reshape(len(x), -1).astype(np.float64) / 255.0, y.astype(np.int64)
    return part("train") + part("t10k")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", choices=["linearsvc", "forest"])
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dual", action="store_true",
                    help="LinearSVC's dual solver (scikit-learn 1.2's default)")
    ap.add_argument("--shards", type=int, default=1,
                    help="forest: deal the rows out iid to this many shards; "
                    "each grows its share of the 100 trees on its own rows, "
                    "and the forest is their union (rumor's peers' design)")
    ap.add_argument("--no-bootstrap", action="store_true",
                    help="forest: every tree sees all its rows")
    ap.add_argument("--features", type=int, default=0,
                    help="forest: features tried per split (0: sqrt)")
    a = ap.parse_args()
    import sklearn
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.svm import LinearSVC

    xtr, ytr, xte, yte = load(a.data)
    if a.model == "linearsvc":
        # Squared hinge, L2, C=1: scikit-learn's defaults but for the solver.
        clf = LinearSVC(C=1.0, dual=a.dual, random_state=a.seed)
        desc = f"LinearSVC(C=1, dual={a.dual})"
    else:
        def forest(trees, seed):
            return RandomForestClassifier(
                n_estimators=trees, max_depth=20, n_jobs=2, random_state=seed,
                bootstrap=not a.no_bootstrap,
                max_features=a.features if a.features else "sqrt")
        clf = forest(100, a.seed)
        desc = "RandomForestClassifier(n_estimators=100, max_depth=20, n_jobs=2"
        desc += ", bootstrap=False" if a.no_bootstrap else ""
        desc += f", max_features={a.features}" if a.features else ""
        desc += f") on {a.shards} iid shards" if a.shards > 1 else ")"
    t0 = time.monotonic()
    if a.model == "forest" and a.shards > 1:
        import numpy as np
        order = np.random.default_rng(a.seed).permutation(len(ytr))
        parts = []
        for k in range(a.shards):
            rows = order[k::a.shards]
            trees = 100 // a.shards + (k < 100 % a.shards)
            parts.append(forest(trees, a.seed + k).fit(xtr[rows], ytr[rows]))
        fit = time.monotonic() - t0
        t0 = time.monotonic()
        # The union's vote: every tree's class probabilities, averaged.
        proba = sum(len(p.estimators_) * p.predict_proba(xte) for p in parts)
        acc = float((proba.argmax(axis=1) == yte).mean())
    else:
        clf.fit(xtr, ytr)
        fit = time.monotonic() - t0
        t0 = time.monotonic()
        acc = float((clf.predict(xte) == yte).mean())
    pred = time.monotonic() - t0
    print(json.dumps({"model": desc, "sklearn": sklearn.__version__,
                      "test_accuracy": acc, "fit_seconds": fit,
                      "predict_seconds": pred}))


if __name__ == "__main__":
    main()
