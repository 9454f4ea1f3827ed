"""How useful codes are: k-nearest-neighbour and linear-probe accuracy on labelled codes.

Reconstruction error says how much a code keeps; these say how much of what it keeps is the
class. They take arrays (N, D) -- autoencoder codes (posterior means for variational models)
or PCA codes alike -- so a learned code and PCA at the same D are scored by the same rules.
The linear probe follows the self-supervised-learning convention (e.g. Alain & Bengio 2016,
"Understanding intermediate layers using linear classifier probes"): a frozen code, a
linear classifier on top, accuracy on held-out data.

Both fit on at most `max_train` training codes (default 20000), a seeded subsample drawn
without replacement, to bound the time on a shared CPU. It costs some k-NN accuracy, so compare
models only at the same cap. Fashion-MNIST, PCA codes, 10000 test images, 2 busy cores:

    D    train   k-NN (k=5)      probe
    32   20000   0.836 (0.8 s)   0.813 (~30 s)
    32   54000   0.851 (2.1 s)   0.814 (~25 s)
    128  20000   0.844 (1.6 s)   0.839 (7 s)
    128  54000   0.860 (3.2 s)   0.839 (24 s)

The test set is never cut.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from aekit.errors import AekitError

MAX_TRAIN = 20000


@dataclass(frozen=True)
class EmbeddingReport:
    """Accuracies in [0, 1] on the test codes, and the code dimension D."""

    knn_accuracy: float
    probe_accuracy: float
    dim: int


def _codes(codes: object, what: str) -> np.ndarray:
    """Array or tensor (N, D) -> finite float64 numpy (N, D)."""
    if isinstance(codes, torch.Tensor):
        codes = codes.detach().cpu().numpy()
    a = np.asarray(codes)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise AekitError(
            f"{what} must be a non-empty array (N, D), got shape {a.shape}; "
            "flatten codes with codes.reshape(len(codes), -1)"
        )
    if a.dtype.kind not in "fiub":
        raise AekitError(f"{what} must be numeric, got dtype {a.dtype}")
    a = a.astype(np.float64)
    bad = ~np.isfinite(a)
    if bad.any():
        row = int(np.argwhere(bad)[0, 0])
        raise AekitError(
            f"{what} contain {int(bad.sum())} NaN or infinite values (first in row {row}); "
            "a diverged model gives such codes -- check the checkpoint or retrain"
        )
    return a


def _labels(labels: object, n: int, what: str) -> np.ndarray:
    if labels is None:
        raise AekitError(
            f"{what} are missing (None); embedding metrics need a labelled dataset "
            "(e.g. mnist, fashion-mnist, cifar10, or an npz with y_train/y_test)"
        )
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    a = np.asarray(labels)
    if a.ndim != 1 or a.shape[0] != n:
        raise AekitError(
            f"{what} must have one label per code, shape ({n},), got {a.shape}; "
            "pass the labels of the same images, in the same order"
        )
    return a


def _check(
    train_codes: object,
    train_labels: object,
    test_codes: object,
    test_labels: object,
    max_train: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validate both splits and subsample the training split to at most `max_train` codes."""
    x_train = _codes(train_codes, "train_codes")
    x_test = _codes(test_codes, "test_codes")
    y_train = _labels(train_labels, x_train.shape[0], "train_labels")
    y_test = _labels(test_labels, x_test.shape[0], "test_labels")
    if x_train.shape[1] != x_test.shape[1]:
        raise AekitError(
            f"train_codes have dimension {x_train.shape[1]} but test_codes {x_test.shape[1]}; "
            "encode both splits with the same model"
        )
    if isinstance(max_train, bool) or int(max_train) != max_train or max_train < 1:
        raise AekitError(f"max_train must be a whole number >= 1, got {max_train}")
    if x_train.shape[0] > max_train:
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(x_train.shape[0], size=int(max_train), replace=False))
        x_train, y_train = x_train[keep], y_train[keep]
    return x_train, y_train, x_test, y_test


def knn_accuracy(
    train_codes: np.ndarray,
    train_labels: np.ndarray,
    test_codes: np.ndarray,
    test_labels: np.ndarray,
    k: int = 5,
    max_train: int = MAX_TRAIN,
    seed: int = 0,
) -> float:
    """Accuracy of a k-NN vote (Euclidean, uniform weights) over the training codes.

    Raw, unscaled distances on purpose: k-NN measures the geometry the code actually has, which
    is what a decoder or a downstream user sees. Ties between classes go to the smallest label
    (scikit-learn's rule).
    """
    data = _check(train_codes, train_labels, test_codes, test_labels, max_train, seed)
    return _knn(*data, k)


def linear_probe_accuracy(
    train_codes: np.ndarray,
    train_labels: np.ndarray,
    test_codes: np.ndarray,
    test_labels: np.ndarray,
    max_train: int = MAX_TRAIN,
    seed: int = 0,
) -> float:
    """Test accuracy of multinomial logistic regression on standardised codes.

    Standardising first (statistics from the training codes only) makes the default L2 penalty
    (C=1) mean the same for every code, whatever its scale: VAE means are ~N(0, 1), PCA codes
    of pixel images have variances spread over orders of magnitude.
    """
    data = _check(train_codes, train_labels, test_codes, test_labels, max_train, seed)
    return _probe(*data)


def embedding_report(
    train_codes: np.ndarray,
    train_labels: np.ndarray,
    test_codes: np.ndarray,
    test_labels: np.ndarray,
    k: int = 5,
    max_train: int = MAX_TRAIN,
    seed: int = 0,
) -> EmbeddingReport:
    """Both accuracies on the same (capped, seeded) training codes, and the code dimension."""
    data = _check(train_codes, train_labels, test_codes, test_labels, max_train, seed)
    return EmbeddingReport(
        knn_accuracy=_knn(*data, k), probe_accuracy=_probe(*data), dim=int(data[0].shape[1])
    )


def _knn(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, k: int
) -> float:
    if isinstance(k, bool) or int(k) != k or not 1 <= k <= x_train.shape[0]:
        raise AekitError(
            f"k must be a whole number from 1 to the number of training codes used "
            f"({x_train.shape[0]}), got {k}"
        )
    knn = KNeighborsClassifier(n_neighbors=int(k), metric="euclidean")
    knn.fit(x_train, y_train)
    return float(knn.score(x_test, y_test))


def _probe(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray
) -> float:
    classes = np.unique(y_train)
    if classes.size < 2:
        raise AekitError(
            f"a linear probe needs at least 2 classes among the training labels, got "
            f"{classes.tolist()}; pass codes of more than one class"
        )
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    probe.fit(x_train, y_train)
    return float(probe.score(x_test, y_test))
