"""What `aekit eval` measures of a melody model: free running, unseen windows, the code,
samples and interpolation, each beside its baseline (modalities/melody/evaluation.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from aekit.modalities.melody import baselines as B
from aekit.modalities.melody import metrics as M
from aekit.modalities.melody.evaluation import (
    active_units,
    evaluate_melodies,
    scores,
    teacher_forced,
)
from aekit.modalities.melody.inference import reconstruct
from tests.melody.test_modality import TRAIN, tunes  # noqa: F401 (a fixture)
from tests.models.test_melody_vae import always_predicts, melodies, one_thread, tiny  # noqa: F401


def test_active_units_count_dimensions_whose_mean_varies_over_the_data():
    g = torch.Generator().manual_seed(0)
    means = torch.zeros(500, 6)
    means[:, [1, 4]] = torch.randn(500, 2, generator=g)  # variance ~1: active
    means[:, 2] = 0.05 * torch.randn(500, generator=g)  # variance 0.0025: below 0.01
    assert active_units(means) == 2
    assert active_units(means[:1]) == 0  # one window shows no variance at all


def test_scores_split_all_and_unseen_windows():
    target = melodies(10, seed=1)
    predicted = target.copy()
    predicted[:5] = 0  # the first half is all wrong where the target is not HOLD
    unseen = np.zeros(10, bool)
    unseen[5:] = True
    got = scores(predicted, target, unseen)
    assert got["accuracy_unseen"] == 1.0 and got["onset_f1_unseen"] == 1.0
    assert got["accuracy_all"] == M.token_accuracy(predicted, target) < 1.0
    assert got["onset_f1_all"] == M.onset_f1(predicted, target) < 1.0


def test_free_running_is_greedy_decoding_from_the_posterior_mean_not_teacher_forcing():
    model = tiny().eval()
    x = melodies(16, seed=2)
    tokens = torch.from_numpy(x).long()
    with torch.no_grad():
        mean = model.encode(tokens).mean
        expected_free = model.generate(mean, 0.0).numpy()
        expected_forced = model.teacher_forced(tokens, mean).argmax(-1).numpy()
    assert np.array_equal(reconstruct(model, x), expected_free)
    assert np.array_equal(teacher_forced(model, x, batch_size=5), expected_forced)
    assert not np.array_equal(expected_free, expected_forced)  # an untrained decoder drifts


def test_the_whole_table_is_seeded_and_every_figure_has_its_baseline():
    model = tiny().eval()
    train, test = melodies(200, seed=3), melodies(40, seed=4)
    test[:10] = train[:10]  # ten test windows also occur in training
    ngram = B.NGram(3).fit(train)
    repeat = B.repeat_bar_one(test)
    kwargs = dict(baselines={"repeat bar 1": repeat}, ngram=ngram, samples=30, pairs=8, steps=5)
    got = evaluate_melodies(model, test, train, **kwargs)
    assert got.to_dict() == evaluate_melodies(model, test, train, **kwargs).to_dict()
    assert (got.windows, got.unseen) == (40, 30)
    assert list(got.reconstruction) == [
        "model, teacher forced", "model, free running", "repeat bar 1"
    ]  # fmt: skip
    assert got.reconstruction["repeat bar 1"]["accuracy_all"] == M.token_accuracy(repeat, test)
    assert got.reconstruction["repeat bar 1"]["accuracy_unseen"] == M.token_accuracy(
        repeat[10:], test[10:]
    )
    with torch.no_grad():
        kl = model.encode(torch.from_numpy(test).long()).kl().mean().item()
    assert got.kl_nats == pytest.approx(kl, rel=1e-6)
    assert 0 <= got.active_units <= got.latent_dim == model.config.latent_dim
    assert set(got.samples) == {"model prior", "test windows", "3-gram samples"}
    assert got.samples["test windows"] == M.sample_statistics(test)
    # Token mixing only ever moves away from the start: its Spearman is at or near 1.
    assert set(got.interpolation) == {"latent (slerp of means)", "token mixing"}
    assert got.interpolation["token mixing"]["spearman"] > 0.8
    assert got.pairs == 8 and got.steps == 5
    other = evaluate_melodies(model, test, train, **kwargs, seed=1)
    assert other.samples["model prior"] != got.samples["model prior"]
    table = got.table()
    for fragment in ("free running", "acc unseen", "latent units active", "model prior",
                     "3-gram samples", "token mixing", "spearman"):  # fmt: skip
        assert fragment in table, fragment


def test_eval_scores_windows_as_they_are_and_prints_the_melody_table(
    tunes: str,  # noqa: F811
    tmp_path: Path,
    run_cli,
) -> None:
    run = tmp_path / "run"
    code, _, err = run_cli(
        "train", "melody-vae", "--data", tunes, "--out", run, *TRAIN, "--epochs", "1"
    )
    assert code == 0, err
    code, out, err = run_cli("eval", run)
    assert code == 0, err
    # Transposition is for training only: eval scores the windows themselves.
    assert "task transpose" not in out and " windows), code dimension" in out
    assert "model, free running" in out and "nearest training window" in out
    assert "latent units active" in out and "token mixing" in out
    code, _, err = run_cli("eval", run, "--nll-samples", "2")  # binarized pixels only
    assert code == 2 and err.strip().count("\n") == 0, err
    assert "--nll-samples is for image models" in err and "melody model" in err
    code, out, err = run_cli("eval", run, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["task"] == "identity"
    more = report["more"]
    assert "model, free running" in more["reconstruction"]
    assert more["reconstruction"]["repeat bar 1"]["accuracy_all"] == pytest.approx(
        report["baselines"]["repeat bar 1"]["token_accuracy"]
    )
    assert "more_table" not in report
