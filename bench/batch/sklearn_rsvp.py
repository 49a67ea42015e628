"""scikit-learn peer of the RSVP response model (`bench/batch`, model section).

Usage: sklearn_rsvp.py FEATURES.csv [RUNS]

FEATURES.csv is `batch::model::export_rsvp_features`: rsvp_id, mtime, split
(train/test), label (1 = yes), then the features standardised exactly as
linfa sees them. Fits `LogisticRegression(C=1.0,
solver="lbfgs", tol=1e-8, max_iter=10000)` (L2, the default) on the train rows (C = 1/alpha of
linfa's L2), one warm-up fit then RUNS timed fits (default 3); scores the
test rows. Prints one JSON line. (Adapted from the model helper's check
script.)
"""
import csv
import json
import statistics
import sys
import time

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score


def main():
    path = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    rows = list(csv.reader(open(path)))
    header, rows = rows[0], rows[1:]
    split = np.array([r[2] for r in rows])
    y = np.array([int(r[3]) for r in rows])
    X = np.array([[float(v) for v in r[4:]] for r in rows])
    tr, te = split == "train", split == "test"

    fit_times, total_times = [], []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        m = LogisticRegression(C=1.0, solver="lbfgs", tol=1e-8, max_iter=10000)
        m.fit(X[tr], y[tr])
        t1 = time.perf_counter()
        p = m.predict_proba(X[te])[:, 1]
        auc = roc_auc_score(y[te], p)
        t2 = time.perf_counter()
        if i > 0:
            fit_times.append(t1 - t0)
            total_times.append(t2 - t0)
    print(json.dumps({
        "version": f"scikit-learn {sklearn.__version__}, numpy {np.__version__}",
        "train": int(tr.sum()), "test": int(te.sum()), "features": X.shape[1],
        "auc": auc,
        "accuracy": accuracy_score(y[te], p >= 0.5),
        "log_loss": log_loss(y[te], p),
        "iterations": int(m.n_iter_[0]),
        "fit_s": statistics.median(fit_times),
        "fit_runs_s": fit_times,
        "total_s": statistics.median(total_times),
        "total_runs_s": total_times,
        "note": f"lbfgs {int(m.n_iter_[0])} iterations",
    }))


if __name__ == "__main__":
    main()
