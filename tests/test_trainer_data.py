"""The trainer's data sets and tensor transforms, on files written by the tests."""

from __future__ import annotations

import pickle
import shutil
import tarfile

import numpy as np
import pytest
import torch
from trainer_fixtures import (
    cifar_archive,
    cifar_images,
    tiny_net,
    write_cifar,
    write_imagefolder,
    write_samples,
)

from dsd.cli import main
from dsd.errors import DataError
from dsd.trainer import clear_cache, load_dataset, train
from dsd.trainer import transforms as T
from dsd.trainer.data import FolderSplit, load_cifar10, load_digits, load_imagefolder

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_digits_fixed_stratified_split_resized_three_channels():
    d = load_digits(12)
    assert d.train_x.shape == (1347, 3, 12, 12) and d.test_x.shape == (450, 3, 12, 12)
    assert d.train_x.dtype == torch.uint8 and d.num_classes == 10
    assert torch.equal(d.train_x[:, 0], d.train_x[:, 2])  # gray in three channels
    counts = torch.bincount(d.test_y, minlength=10)
    assert counts.min() >= 43 and counts.max() <= 46  # stratified: ~45 of each digit
    assert torch.equal(load_digits(12).test_y, d.test_y)  # fixed split
    assert not d.flip and d.pad == 1
    assert 0 < float(d.mean[0]) < 255 and float(d.std[0]) > 10


def test_cifar10_pickles_load_pixel_exact(tmp_path):
    root = write_cifar(tmp_path / "cifar", n_per_batch=40)
    d = load_cifar10(str(root), 32)
    assert d.train_x.shape == (200, 3, 32, 32) and d.test_x.shape == (40, 3, 32, 32)
    data, labels = cifar_images(40, seed=1)  # data_batch_2
    assert torch.equal(d.train_x[40:80], torch.from_numpy(data.reshape(40, 3, 32, 32)))
    assert d.train_y[40:80].tolist() == labels
    assert d.flip and d.pad == 4
    assert load_cifar10(str(root), 16).train_x.shape == (200, 3, 16, 16)


def test_cifar10_missing_and_corrupt_files_are_data_errors(tmp_path):
    root = write_cifar(tmp_path / "cifar", n_per_batch=4)
    (root / "data_batch_3").unlink()
    with pytest.raises(DataError, match=r"missing .*data_batch_3"):
        load_cifar10(str(root), 32)
    (root / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="data_batch_3 is not a CIFAR-10 batch"):
        load_cifar10(str(root), 32)
    with open(root / "data_batch_3", "wb") as f:
        pickle.dump({b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2, 11]}, f)
    with pytest.raises(DataError, match="labels outside"):
        load_cifar10(str(root), 32)
    with pytest.raises(DataError, match="not a readable directory"):
        load_cifar10(str(tmp_path / "nowhere"), 32)


def test_training_on_cifar10_files(tmp_path):
    root = write_cifar(tmp_path / "cifar", n_per_batch=32)
    rec = train(tiny_net(16), "cifar10", data=str(root), epochs=1, batch_size=32)
    assert rec["status"] == "ok", rec["reason"]
    assert rec["dataset"] == "cifar10" and len(rec["test_err"]) == 1
    assert rec["top1_err"] * 32 == pytest.approx(round(rec["top1_err"] * 32))  # 32 test images


def test_imagefolder_lists_classes_and_transforms_to_resolution(tmp_path):
    root = write_imagefolder(tmp_path / "imgs")
    d = load_imagefolder(str(root), 12)
    assert d.classes == ("cat", "dog", "owl") and d.num_classes == 3
    assert len(d.train) == 18 and len(d.val) == 6
    assert [label for _, label in d.val] == [0, 0, 1, 1, 2, 2]
    train_item, label = FolderSplit(d.train, 12, train=True)[7]
    assert train_item.shape == (3, 12, 12) and train_item.dtype == torch.uint8 and label == 1
    assert (train_item == 120).all()  # a uniform image stays uniform under crop, resize, flip
    val_item, label = FolderSplit(d.val, 12, train=False)[5]
    assert val_item.shape == (3, 12, 12) and label == 2 and (val_item == 200).all()


def test_training_on_an_imagefolder_with_workers(tmp_path):
    root = write_imagefolder(tmp_path / "imgs", n_train=8)
    net = tiny_net(16, classes=3, resolution=8)
    rec = train(net, "imagefolder", data=str(root), epochs=2, batch_size=8, num_workers=1, lr=0.2)
    assert rec["status"] == "ok", rec["reason"]
    assert len(rec["train_loss"]) == 2 and rec["top1_err"] * 6 == pytest.approx(
        round(rec["top1_err"] * 6)
    )


def test_imagefolder_problems_are_data_errors(tmp_path):
    root = write_imagefolder(tmp_path / "a")
    shutil.rmtree(root / "val")
    with pytest.raises(DataError, match="val is missing"):
        load_imagefolder(str(root), 8)
    root = write_imagefolder(tmp_path / "b")
    (root / "val" / "emu").mkdir()
    with pytest.raises(DataError, match="val/ has classes not in train/: emu"):
        load_imagefolder(str(root), 8)
    (root / "val" / "emu").rmdir()
    (root / "train" / "cat" / "0.png").write_bytes(b"\x89PNG broken")
    d = load_imagefolder(str(root), 8)
    with pytest.raises(DataError, match=r"cannot decode .*0\.png"):
        FolderSplit(d.train, 8, train=True)[0]


def test_dataset_cache_returns_the_same_object_until_cleared():
    a = load_dataset("digits", None, 8)
    assert load_dataset("digits", None, 8) is a
    assert load_dataset("digits", None, 12) is not a
    clear_cache()
    assert load_dataset("digits", None, 8) is not a


def test_random_crop_flip_is_a_shifted_window_of_the_padded_image():
    g = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.int64).reshape(2, 3, 6, 6).to(torch.uint8)
    assert torch.equal(T.random_crop_flip(x, 0, False, g), x)
    out = T.random_crop_flip(x, 2, True, g)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(2):
        windows = [
            padded[i, :, dy : dy + 6, dx : dx + 6].flip(-1)
            if f
            else padded[i, :, dy : dy + 6, dx : dx + 6]
            for dy in range(5)
            for dx in range(5)
            for f in (False, True)
        ]
        assert any(torch.equal(out[i], w) for w in windows)
    flips = T.random_crop_flip(
        torch.arange(4, dtype=torch.uint8).view(1, 1, 1, 4).expand(1000, 1, 1, 4), 0, True, g
    )
    frac = (flips[:, 0, 0, 0] == 3).float().mean().item()
    assert 0.4 < frac < 0.6


def test_resize_center_crop_keeps_the_centre():
    img = torch.zeros(3, 40, 80, dtype=torch.uint8)
    img[:, :, 30:50] = 255  # a bright vertical band in the middle
    out = T.resize_center_crop(img, 16)
    assert out.shape == (3, 16, 16)
    assert out[:, :, 8].min() == 255 and out[:, :, 0].max() == 0


def test_random_resized_crop_shape_and_range():
    g = torch.Generator().manual_seed(1)
    img = torch.randint(0, 256, (3, 30, 50), dtype=torch.uint8, generator=g)
    for _ in range(20):
        out = T.random_resized_crop(img, 10, g)
        assert out.shape == (3, 10, 10) and out.dtype == torch.uint8


def test_corrupt_image_in_a_worker_stops_the_run_with_a_one_line_data_error(tmp_path):
    root = write_imagefolder(tmp_path / "imgs", n_train=8)
    (root / "train" / "dog" / "3.png").write_bytes(b"broken")
    net = tiny_net(16, classes=3, resolution=8)
    with pytest.raises(DataError) as e:
        train(net, "imagefolder", data=str(root), epochs=1, batch_size=24, num_workers=1)
    message = str(e.value)
    assert message.startswith("imagefolder: cannot decode") and "3.png" in message
    assert "\n" not in message


def test_evaluation_decodes_large_jpegs_at_a_reduced_scale_but_never_below_the_crop(tmp_path):
    from PIL import Image

    from dsd.trainer.data import decode_image

    path = tmp_path / "big.jpg"
    Image.new("RGB", (400, 240), (200, 100, 50)).save(path, quality=95)
    assert decode_image(str(path)).shape == (3, 240, 400)
    small = decode_image(str(path), min_side=37)
    assert 37 <= min(small.shape[1:]) < 240  # JPEG draft: a power-of-two reduction
    item, _ = FolderSplit(((str(path), 0),), 32, train=False)[0]
    assert item.shape == (3, 32, 32)
    assert (item[0].float() - 200).abs().max() <= 3 and (item[2].float() - 50).abs().max() <= 3


# --- CIFAR-10 as torchvision users have it ----------------------------------------------------------


def _same_images(d, n_per_batch):
    """``d`` holds the fixture's images: batch 2's rows at their place, labels too."""
    data, labels = cifar_images(n_per_batch, seed=1)  # data_batch_2
    rows = slice(n_per_batch, 2 * n_per_batch)
    assert d.train_x.shape == (5 * n_per_batch, 3, 32, 32) and len(d.test_y) == n_per_batch
    assert torch.equal(d.train_x[rows], torch.from_numpy(data.reshape(-1, 3, 32, 32)))
    assert d.train_y[rows].tolist() == labels


@pytest.mark.parametrize("str_keys", [False, True])
def test_cifar10_from_the_root_the_folder_and_the_archive_in_place(tmp_path, str_keys):
    archive = tmp_path / "root" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    archive.write_bytes(cifar_archive(8, str_keys=str_keys))
    _same_images(load_cifar10(str(archive), 32), 8)  # the .tar.gz, read in place
    _same_images(load_cifar10(str(archive.parent), 32), 8)  # a root holding only the archive
    with tarfile.open(archive) as tar:
        tar.extractall(archive.parent, filter="data")
    archive.unlink()
    assert (archive.parent / "cifar-10-batches-py" / "data_batch_5").is_file()
    _same_images(load_cifar10(str(archive.parent), 32), 8)  # torchvision's root
    _same_images(load_cifar10(str(archive.parent / "cifar-10-batches-py"), 32), 8)  # the folder
    _same_images(load_cifar10(str(write_cifar(tmp_path / "plain", 8, str_keys=str_keys)), 32), 8)


def test_cifar10_archive_problems_are_one_line_data_errors(tmp_path):
    bad = tmp_path / "cifar-10-python.tar.gz"
    bad.write_bytes(cifar_archive(8)[:300])  # truncated gzip
    with pytest.raises(DataError, match="cannot read the archive"):
        load_cifar10(str(bad), 32)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(DataError, match="is a file but not a tar archive"):
        load_cifar10(str(text), 32)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=r"missing .*data_batch_1 \(expected .*cifar-10-python"):
        load_cifar10(str(empty), 32)


def test_a_pickle_that_would_run_code_is_refused_not_run(tmp_path):
    root = write_cifar(tmp_path / "cifar", 4)

    class Boom:
        def __reduce__(self):
            return (shutil.rmtree, (str(root),))

    with open(root / "test_batch", "wb") as f:
        pickle.dump({b"data": Boom(), b"labels": [0]}, f)
    with pytest.raises(DataError, match=r"test_batch is not a CIFAR-10 batch .*shutil.rmtree"):
        load_cifar10(str(root), 32)
    assert root.is_dir()


# --- resolutions a data set serves ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("dataset", "resolution", "needle"),
    [
        ("digits", 64, "dataset digits has 8x8 images, served at resolutions 4 to 32"),
        ("cifar10", 224, "dataset cifar10 has 32x32 images, served at resolutions 4 to 32"),
        ("cifar10", 33, "the model has resolution 33 (sample with --resolution 32)"),
        ("digits", 3, "resolution 3 is too small"),
    ],
)
def test_samples_at_a_resolution_the_data_does_not_serve_are_refused_before_training(
    tmp_path, capsys, dataset, resolution, needle
):
    samples = write_samples(tmp_path / "s.parquet", [tiny_net(16, resolution=resolution)])
    out = tmp_path / "r.parquet"
    data = ["--data", str(write_cifar(tmp_path / "c", 8))] if dataset == "cifar10" else []
    argv = ["train", str(samples), "-o", str(out), "--dataset", dataset, *data, "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert not out.exists() and not (tmp_path / "r.parquet.run").exists()


def test_resolutions_a_data_set_serves_load():
    assert load_dataset("digits", None, 32).resolution == 32
    with pytest.raises(DataError, match="digits"):
        load_dataset("digits", None, 33)
    assert load_dataset("synthetic", None, 300, synthetic_size=4).resolution == 300


def test_an_image_folder_serves_any_resolution(tmp_path):
    root = write_imagefolder(tmp_path / "imgs")
    d = load_dataset("imagefolder", str(root), 224)
    item, _ = FolderSplit(d.val, 224, train=False)[0]
    assert item.shape == (3, 224, 224)
