"""The epoch line: the loss, its parts, and the rate in what the rows are."""

from __future__ import annotations

from aekit.training.metrics import epoch_line

ROW = {"epoch": 3, "train_loss": 1.5, "val_loss": 1.25, "train_recon": 1.0, "train_kl": 0.5,
       "images_per_s": 1234.4, "seconds": 2.0}  # fmt: skip


def test_epoch_line_names_the_rows_in_its_rate():
    images = epoch_line(ROW, 10, "images")
    assert images.startswith("epoch 3/10  train 1.5  val 1.25  recon 1 kl 0.5")
    assert images.endswith("1,234 images/s  2.0s")
    assert epoch_line(ROW, 10).endswith("1,234 rows/s  2.0s")
    assert epoch_line(ROW, 10, "windows").endswith("1,234 windows/s  2.0s")
