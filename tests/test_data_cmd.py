"""``dsd data cifar10``: a download from a loopback HTTP server serving a small fabricated archive
(the real layout), checked by MD5, resumed after an interruption, refused on a bad checksum."""

from __future__ import annotations

import hashlib
import http.server
import threading

import pytest
import torch
from trainer_fixtures import cifar_archive, cifar_images

from dsd.cli import main
from dsd.trainer import load_dataset

ARCHIVE = cifar_archive(8)
MD5 = hashlib.md5(ARCHIVE).hexdigest()


class Server(http.server.ThreadingHTTPServer):
    """Serves ``payload`` at any path, honouring ``Range: bytes=N-`` unless ``ignore_range``;
    ``cut_after`` bytes into the next response it hangs up (an interrupted download)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.payload: bytes | None = ARCHIVE  # None: 404
        self.cut_after: int | None = None
        self.ignore_range = False
        self.ranges: list[str | None] = []  # the Range header of every request

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/cifar-10-python.tar.gz"


class Handler(http.server.BaseHTTPRequestHandler):
    server: Server

    def do_GET(self) -> None:
        srv = self.server
        asked = self.headers.get("Range")
        srv.ranges.append(asked)
        body, status = srv.payload, 200
        if body is None:
            self.send_error(404, "Not Found")
            return
        if asked and not srv.ignore_range:
            start = int(asked.removeprefix("bytes=").rstrip("-"))
            if start >= len(body):
                self.send_response(416)
                self.end_headers()
                return
            body, status = body[start:], 206
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if srv.cut_after is not None:
            body, srv.cut_after = body[: srv.cut_after], None
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # quiet
        pass


@pytest.fixture
def server():
    srv = Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _data(root, server, *extra) -> list[str]:
    return ["data", "cifar10", "--root", str(root), "--url", server.url, "--no-progress", *extra]


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_download_checks_the_checksum_unpacks_and_trains_from_the_root(tmp_path, server, capsys):
    root = tmp_path / "data"
    assert main(_data(root, server, "--md5", MD5)) == 0
    out = capsys.readouterr().out
    assert f"MD5 {MD5} checked" in out and "--data" in out
    assert (root / "cifar-10-python.tar.gz").read_bytes() == ARCHIVE
    folder = root / "cifar-10-batches-py"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta", "readme.html"]
    )
    assert not list(root.glob("*.part")) and not list(root.glob(".cifar*"))
    d = load_dataset("cifar10", str(root), 32)
    data, labels = cifar_images(8, seed=5)  # test_batch
    assert torch.equal(d.test_x, torch.from_numpy(data.reshape(-1, 3, 32, 32)))
    assert d.test_y.tolist() == labels
    # Already there with the right checksum: nothing is downloaded again.
    assert main(_data(root, server, "--md5", MD5)) == 0
    assert server.ranges == [None]


def test_an_interrupted_download_resumes_with_a_range_request(tmp_path, server, capsys):
    root = tmp_path / "data"
    server.cut_after = 1000
    assert main(_data(root, server, "--md5", MD5)) == 2
    line = _one_line(capsys)
    assert "run the same command again to resume" in line, line
    part = root / "cifar-10-python.tar.gz.part"
    assert part.read_bytes() == ARCHIVE[:1000]
    assert not (root / "cifar-10-python.tar.gz").exists()
    assert not (root / "cifar-10-batches-py").exists()
    assert main(_data(root, server, "--md5", MD5)) == 0
    assert server.ranges == [None, "bytes=1000-"]
    assert (root / "cifar-10-python.tar.gz").read_bytes() == ARCHIVE and not part.exists()


def test_a_server_that_ignores_the_range_is_downloaded_again_from_the_start(tmp_path, server):
    root = tmp_path / "data"
    root.mkdir()
    (root / "cifar-10-python.tar.gz.part").write_bytes(b"junk from another file")
    server.ignore_range = True
    assert main(_data(root, server, "--md5", MD5)) == 0
    assert server.ranges == ["bytes=22-"]
    assert (root / "cifar-10-python.tar.gz").read_bytes() == ARCHIVE


def test_a_bad_checksum_keeps_the_file_aside_and_uses_nothing(tmp_path, server, capsys):
    root = tmp_path / "data"
    assert main(_data(root, server)) == 2  # the published MD5, which this archive lacks
    line = _one_line(capsys)
    assert f"MD5 {MD5} is not the published c58f30108f718f92721af3b95e74349a" in line, line
    assert (root / "cifar-10-python.tar.gz.bad").read_bytes() == ARCHIVE
    assert sorted(p.name for p in root.iterdir()) == ["cifar-10-python.tar.gz.bad"]


def test_no_network_and_bad_options_are_one_line(tmp_path, capsys):
    root = tmp_path / "data"
    url = "http://127.0.0.1:1/cifar-10-python.tar.gz"  # nothing listens on port 1
    assert main(["data", "cifar10", "--root", str(root), "--url", url, "--no-progress"]) == 2
    line = _one_line(capsys)
    assert f"cannot download {url}" in line and "check the network" in line, line
    assert main(["data", "cifar10", "--root", str(root), "--md5", "xyz"]) == 2
    assert "--md5 must be 32 hexadecimal digits" in _one_line(capsys)


def test_a_missing_file_on_the_server_is_one_line(tmp_path, server, capsys):
    server.payload = None
    root = tmp_path / "data"
    assert main(_data(root, server, "--md5", MD5)) == 2
    assert f"cannot download {server.url}: HTTP 404 Not Found" in _one_line(capsys)
    assert not (root / "cifar-10-python.tar.gz").exists()
