"""``dsd data``: fetch a data set that dsd can download (CIFAR-10), checked by its checksum."""

from __future__ import annotations

import argparse

from dsd.cli import add_command
from dsd.errors import DsdError

EPILOG = """\
examples:
  dsd data cifar10 --root data
  dsd data cifar10 --root ~/datasets --url https://mirror.example.org/cifar-10-python.tar.gz

The archive (cifar-10-python.tar.gz, 163 MB, from its authors' page) lands in ROOT, is checked
against its published MD5, and is unpacked into ROOT/cifar-10-batches-py/, torchvision's layout.
An interrupted download resumes when the same command runs again; a file whose checksum differs is
kept aside as ROOT/cifar-10-python.tar.gz.bad and never used. Then train with
--dataset cifar10 --data ROOT (the folder or the archive work too).
"""


def register(sub) -> None:
    """Add ``dsd data`` to the command line."""
    p = add_command(
        sub,
        "data",
        cmd_data,
        "download CIFAR-10 (checksum checked, resumable) into a folder",
        description="Download a data set dsd can fetch itself, check it and unpack it.",
        epilog=EPILOG,
    )
    p.add_argument("dataset", choices=("cifar10",), help="the data set (cifar10)")
    p.add_argument("--root", default="data", help="folder to put it in (default ./data)")
    p.add_argument("--url", help="a mirror of cifar-10-python.tar.gz (default: the authors' page)")
    p.add_argument("--md5", help="the archive's MD5 (default: the published one)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def cmd_data(args: argparse.Namespace) -> int:
    """Handler of ``dsd data``."""
    # lazy: the trainer layer loads torch (~1 s at start-up); dsd --help stays fast
    from dsd.trainer import CIFAR10_MD5, CIFAR10_URL, download_cifar10

    md5 = (args.md5 or CIFAR10_MD5).lower()
    if len(md5) != 32 or any(c not in "0123456789abcdef" for c in md5):
        raise DsdError(f"--md5 must be 32 hexadecimal digits, got {args.md5!r}")
    where = download_cifar10(
        args.root, url=args.url or CIFAR10_URL, md5=md5, progress=not args.no_progress
    )
    print(f"CIFAR-10 is in {where} (MD5 {md5} checked)")
    print(f"train with: dsd train SAMPLES --dataset cifar10 --data {args.root} -o results.parquet")
    return 0
