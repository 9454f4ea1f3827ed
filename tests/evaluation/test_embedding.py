from __future__ import annotations

import numpy as np
import pytest
import torch

from aekit.errors import AekitError
from aekit.latent.embedding import (
    EmbeddingReport,
    embedding_report,
    knn_accuracy,
    linear_probe_accuracy,
)
from aekit.latent.pca import PCA


def clusters(n: int, classes: int = 3, dim: int = 8, spread: float = 0.5, seed: int = 0):
    """Codes (n, dim) around well-separated class centres 10 units apart, and their labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=n)
    centres = 10.0 * np.eye(classes, dim)
    return centres[labels] + spread * rng.standard_normal((n, dim)), labels


def test_separated_clusters_score_perfectly():
    x_train, y_train = clusters(300, seed=1)
    x_test, y_test = clusters(150, seed=2)
    assert knn_accuracy(x_train, y_train, x_test, y_test, k=5) == 1.0
    assert linear_probe_accuracy(x_train, y_train, x_test, y_test) == 1.0


def test_random_labels_score_about_chance():
    rng = np.random.default_rng(3)
    x_train, x_test = rng.standard_normal((600, 6)), rng.standard_normal((1000, 6))
    y_train, y_test = rng.integers(0, 5, 600), rng.integers(0, 5, 1000)
    # chance is 0.2; the standard error on 1000 test codes is ~0.013
    assert abs(knn_accuracy(x_train, y_train, x_test, y_test, k=5) - 0.2) < 0.06
    assert abs(linear_probe_accuracy(x_train, y_train, x_test, y_test) - 0.2) < 0.06


def test_overlapping_clusters_score_between_chance_and_perfect():
    x_train, y_train = clusters(400, classes=2, spread=6.0, seed=4)
    x_test, y_test = clusters(400, classes=2, spread=6.0, seed=5)
    report = embedding_report(x_train, y_train, x_test, y_test, k=7)
    assert 0.6 < report.knn_accuracy < 0.99 and 0.6 < report.probe_accuracy < 0.99


def test_report_matches_the_single_metrics_and_accepts_tensors():
    x_train, y_train = clusters(200, classes=4, spread=4.0, seed=6)
    x_test, y_test = clusters(100, classes=4, spread=4.0, seed=7)
    report = embedding_report(
        torch.tensor(x_train, dtype=torch.float32), torch.tensor(y_train),
        torch.tensor(x_test, dtype=torch.float32), torch.tensor(y_test), k=3,
    )  # fmt: skip
    assert isinstance(report, EmbeddingReport) and report.dim == 8
    assert report.knn_accuracy == pytest.approx(knn_accuracy(x_train, y_train, x_test, y_test, 3))
    assert report.probe_accuracy == pytest.approx(
        linear_probe_accuracy(x_train, y_train, x_test, y_test)
    )


def test_pca_codes_of_digits_carry_the_class():
    # real 8x8 digits bundled with scikit-learn; PCA.encode hands over a torch tensor
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images * 15).astype(np.uint8)[:, None]  # (1797, 1, 8, 8), 0..16 -> 0..240
    labels = digits.target.astype(np.int64)
    pca = PCA(16).fit(images[:1200])
    report = embedding_report(pca.encode(images[:1200]), labels[:1200],
                              pca.encode(images[1200:]), labels[1200:])  # fmt: skip
    assert report.dim == 16
    assert report.knn_accuracy > 0.9 and report.probe_accuracy > 0.85, report


def test_max_train_caps_the_training_codes_reproducibly():
    x_train, y_train = clusters(200, classes=3, spread=5.0, seed=8)
    x_test, y_test = clusters(300, classes=3, spread=5.0, seed=9)
    # k may reach the cap but not pass it: proof that only max_train codes were used
    capped = knn_accuracy(x_train, y_train, x_test, y_test, k=50, max_train=50, seed=1)
    assert capped == knn_accuracy(x_train, y_train, x_test, y_test, k=50, max_train=50, seed=1)
    with pytest.raises(AekitError, match=r"\(50\), got 51"):
        knn_accuracy(x_train, y_train, x_test, y_test, k=51, max_train=50)
    # a different subsample gives a (slightly) different answer; a cap above N changes nothing
    others = {knn_accuracy(x_train, y_train, x_test, y_test, 5, 50, s) for s in range(6)}
    assert len(others) > 1
    full = knn_accuracy(x_train, y_train, x_test, y_test, k=5)
    assert full == knn_accuracy(x_train, y_train, x_test, y_test, k=5, max_train=10_000, seed=3)


def _good():
    x_train, y_train = clusters(20, seed=10)
    x_test, y_test = clusters(10, seed=11)
    return x_train, y_train, x_test, y_test


def _with(**changes):
    x_train, y_train, x_test, y_test = _good()
    args = {"train_codes": x_train, "train_labels": y_train, "test_codes": x_test,
            "test_labels": y_test}  # fmt: skip
    args.update(changes)
    return args


def _nan_codes():
    x = _good()[0].copy()
    x[3, 1] = np.nan
    return x


def _inf_codes():
    x = _good()[2].copy()
    x[0, 0] = np.inf
    return x


BAD_ARGS = {
    "train labels None": _with(train_labels=None),
    "test labels None": _with(test_labels=None),
    "train labels short": _with(train_labels=_good()[1][:-1]),
    "test labels long": _with(test_labels=np.zeros(11, dtype=np.int64)),
    "labels 2-d": _with(test_labels=_good()[3][:, None]),
    "dimension mismatch": _with(test_codes=_good()[2][:, :5]),
    "codes 1-d": _with(train_codes=_good()[0][:, 0]),
    "codes empty": _with(test_codes=np.zeros((0, 8)), test_labels=np.zeros(0, np.int64)),
    "nan in train codes": _with(train_codes=_nan_codes()),
    "inf in test codes": _with(test_codes=_inf_codes()),
    "string codes": _with(train_codes=np.full((20, 8), "a")),
}


@pytest.mark.parametrize("case", sorted(BAD_ARGS))
@pytest.mark.parametrize("fn", [knn_accuracy, linear_probe_accuracy, embedding_report])
def test_bad_inputs_raise_aekit_error(fn, case):
    with pytest.raises(AekitError):
        fn(**BAD_ARGS[case])


@pytest.mark.parametrize("k", [0, -1, 21, 2.5, True])
def test_bad_k_raises(k):
    with pytest.raises(AekitError, match="k must be"):
        knn_accuracy(*_good(), k=k)
    with pytest.raises(AekitError, match="k must be"):
        embedding_report(*_good(), k=k)


def test_k_equal_to_the_training_set_is_allowed():
    assert 0 <= knn_accuracy(*_good(), k=20) <= 1


@pytest.mark.parametrize("max_train", [0, -5, 1.5])
def test_bad_max_train_raises(max_train):
    with pytest.raises(AekitError, match="max_train"):
        linear_probe_accuracy(*_good(), max_train=max_train)


def test_probe_needs_two_classes():
    x_train, _, x_test, y_test = _good()
    with pytest.raises(AekitError, match="at least 2 classes"):
        linear_probe_accuracy(x_train, np.zeros(20, dtype=np.int64), x_test, y_test)


def test_messages_name_the_offending_values():
    with pytest.raises(AekitError, match=r"2 NaN or infinite values \(first in row 3\)"):
        x = _nan_codes()
        x[5, 0] = np.inf
        knn_accuracy(x, *_good()[1:])
    with pytest.raises(AekitError, match=r"shape \(20,\), got \(19,\)"):
        knn_accuracy(**BAD_ARGS["train labels short"])
    with pytest.raises(AekitError, match="labelled dataset"):
        embedding_report(**BAD_ARGS["test labels None"])
