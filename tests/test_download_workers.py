"""Parallel downloads (``--workers``), retries of transient HTTP errors, and sweeping killed runs' ``.work``.

Real yt-dlp downloads from an HTTP server on 127.0.0.1 that can add latency, answer with scripted error
statuses, or stall half-way through a file; real ffmpeg decodes.
"""

from __future__ import annotations

import functools
import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from asmr_zoo.dataset import MANIFEST_NAME, read_manifest
from asmr_zoo.errors import DataError
from asmr_zoo_sources.base import Unit, unlabelled
from asmr_zoo_sources.build import build_dataset
from asmr_zoo_sources.workdir import WORK_DIR, run_folder, sweep
from asmr_zoo_sources.workers import RetryPolicy, fetch, fetched_units, is_transient
from asmr_zoo_sources.youtube import YouTubeSource
from tests import test_sources_youtube as youtube_tests
from tests.test_sources_youtube import OFFLINE_ENV, write_info

media, no_internet = youtube_tests.media, youtube_tests.no_internet  # its fixtures
FAST_RETRY = RetryPolicy(tries=3, delay=0.05)


@dataclass
class ServerState:
    latency: float = 0.0  # seconds before each answer
    failures: dict[str, list[int]] = field(default_factory=dict)  # path -> statuses to answer first
    requests: list[str] = field(default_factory=list)
    active: int = 0
    peak: int = 0  # the most requests answered at once
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)  # ends stalled answers

    def count(self, path: str) -> int:
        return self.requests.count(path)


class _Handler(http.server.SimpleHTTPRequestHandler):
    state: ServerState

    def do_GET(self) -> None:
        state = self.state
        with state.lock:
            state.requests.append(self.path)
            state.active += 1
            state.peak = max(state.peak, state.active)
            failures = state.failures.get(self.path)
            status = failures.pop(0) if failures else None
        try:
            time.sleep(state.latency)
            if status is not None:
                self.send_error(status)
            elif self.path.startswith("/stall/"):
                self._stall()
            else:
                super().do_GET()
        finally:
            with state.lock:
                state.active -= 1

    def _stall(self) -> None:
        """Send half of video.m4a, then hang until released (or the client goes away)."""
        data = (Path(self.directory) / "video.m4a").read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "audio/mp4")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self.state.release.wait(60)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server(media: Path) -> Iterator[tuple[str, ServerState]]:
    state = ServerState()
    handler = type("Handler", (_Handler,), {"state": state})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(media)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    state.release.set()
    httpd.shutdown()


def _videos(folder: Path, base: str, count: int, path: str = "/video.m4a") -> list[str]:
    """Info JSONs of ``count`` videos, each downloading ``path`` (told apart by a query string)."""
    folder.mkdir(parents=True, exist_ok=True)
    return [str(write_info(folder, f"worker{k:05d}", f"{base}{path}?v={k}")) for k in range(count)]


# -- workers -----------------------------------------------------------------------------------------------


def test_workers_download_in_parallel_and_write_the_same_data_set(
    tmp_path: Path, server: tuple[str, ServerState]
) -> None:
    base, state = server
    state.latency = 0.3
    items = _videos(tmp_path / "info", base, 6)
    one = build_dataset(YouTubeSource(workdir=tmp_path / "one" / WORK_DIR), items, tmp_path / "one", workers=1)
    assert state.peak == 1
    state.peak = 0
    four = build_dataset(YouTubeSource(workdir=tmp_path / "four" / WORK_DIR), items, tmp_path / "four", workers=4)
    assert state.peak >= 2, "downloads overlapped"
    assert one.processed == four.processed == [f"worker{k:05d}" for k in range(6)], "written in the list's order"
    assert (tmp_path / "one" / MANIFEST_NAME).read_text() == (tmp_path / "four" / MANIFEST_NAME).read_text()
    for name in ("one", "four"):
        assert not (tmp_path / name / WORK_DIR).exists(), "every download folder is deleted"


def test_shards_with_workers_share_one_out(tmp_path: Path, server: tuple[str, ServerState], cli: Any) -> None:
    base, _ = server
    items = _videos(tmp_path / "info", base, 6)
    out = tmp_path / "data"
    for shard in ("1/2", "2/2"):
        result = cli("data", "youtube", *items, "--out", str(out), "--shard", shard, "--workers", "3", env=OFFLINE_ENV)
        assert result.returncode == 0 and "0 failed" in result.stdout, result.stderr
    assert {r.video_id for r in read_manifest(out)} == {f"worker{k:05d}" for k in range(6)}
    again = cli("data", "youtube", *items, "--out", str(out), "--workers", "3", env=OFFLINE_ENV)
    assert "0 processed, 6 already done" in again.stdout


def _slow_unit(video_id: str, delay: float) -> Unit:
    def load() -> Iterator[Any]:
        time.sleep(delay)
        if video_id == "bug":
            raise RuntimeError("a bug in a source")
        yield unlabelled(video_id, "intro", 0.0, 1.0, "test")

    return Unit(video_id, video_id, load)


def test_fetched_units_come_in_the_lists_order_and_bugs_are_raised() -> None:
    delays = [0.2, 0.0, 0.1, 0.0, 0.15, 0.05, 0.0]
    units = [_slow_unit(f"v{k}", d) for k, d in enumerate(delays)]
    assert [f.unit.video_id for f in fetched_units(units, 3, FAST_RETRY)] == [u.video_id for u in units]
    with pytest.raises(RuntimeError, match="a bug in a source"):
        list(fetched_units([units[0], _slow_unit("bug", 0.0), units[1]], 2, FAST_RETRY))


# -- retries -----------------------------------------------------------------------------------------------


def test_transient_http_errors_are_retried_and_permanent_ones_are_not(
    tmp_path: Path, server: tuple[str, ServerState]
) -> None:
    base, state = server
    state.failures = {"/video.m4a?v=0": [429, 429], "/video.m4a?v=1": [503] * 10}
    items = _videos(tmp_path / "info", base, 2)
    items.append(str(write_info(tmp_path / "info", "gone0000001", f"{base}/gone.m4a")))
    source = YouTubeSource(workdir=tmp_path / "d" / WORK_DIR, ydl_params={"retries": 0})  # only our retries
    report = build_dataset(source, items, tmp_path / "d", workers=2, retry=FAST_RETRY)
    assert report.processed == ["worker00000"] and state.count("/video.m4a?v=0") == 3, "429 twice, then served"
    failed = dict(report.failed)
    assert "HTTP Error 503" in failed["worker00001"] and state.count("/video.m4a?v=1") == 3, "bounded: 3 tries"
    assert "HTTP Error 404" in failed["gone0000001"] and state.count("/gone.m4a") == 1, "a 404 is final"


def test_backoff_doubles_between_tries() -> None:
    assert is_transient(DataError("download failed: HTTP Error 429: Too Many Requests"))
    assert is_transient(DataError("download failed: HTTP Error 502: Bad Gateway"))
    assert not is_transient(DataError("download failed: HTTP Error 404: Not Found"))

    def load() -> Iterator[Any]:
        raise DataError("could not read the video's metadata: HTTP Error 429: Too Many Requests")
        yield

    waits: list[float] = []
    fetched = fetch(Unit("v", "v", load), RetryPolicy(tries=4, delay=1.0), waits.append)
    assert fetched.error is not None and len(waits) == 3
    for attempt, wait in enumerate(waits):
        assert 2**attempt <= wait <= 1.5 * 2**attempt


# -- .work leftovers -------------------------------------------------------------------------------------


def test_a_killed_runs_download_folder_is_removed_by_the_next_run(
    tmp_path: Path, server: tuple[str, ServerState], cli: Any
) -> None:
    base, _ = server
    out = tmp_path / "data"
    stalled = write_info(tmp_path, "stalled0001", f"{base}/stall/video.m4a")
    args = [sys.executable, "-m", "asmr_zoo", "data", "youtube", str(stalled), "--out", str(out)]
    proc = subprocess.Popen(
        args, env={**os.environ, **OFFLINE_ENV}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 60
    partial = []
    while time.time() < deadline and not partial:
        partial = [p for p in (out / WORK_DIR).rglob("*") if p.is_file() and p.stat().st_size > 0]
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert partial, "the run was killed mid-download"
    (left,) = (out / WORK_DIR).iterdir()
    size = sum(p.stat().st_size for p in left.rglob("*") if p.is_file())

    result = cli("data", "youtube", *_videos(tmp_path / "info", base, 1), "--out", str(out), env=OFFLINE_ENV)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "leftover" in line]
    assert lines == [
        f"removed 1 leftover download folder(s) of killed runs from {out / WORK_DIR}: {size / 1e3:.1f} kB freed"
    ]
    assert not left.exists() and not (out / WORK_DIR).exists()  # the emptied work folder goes too


def test_crafted_leftovers_are_swept_and_a_live_runs_folder_is_kept(tmp_path: Path) -> None:
    work = tmp_path / "data" / WORK_DIR
    (work / "asmr-zoo-old").mkdir(parents=True)
    (work / "asmr-zoo-old" / "media.m4a").write_bytes(b"x" * 2_000_000)
    (work / "run-1-dead").mkdir()
    (work / "run-1-dead" / "audio.wav").write_bytes(b"x" * 1_000_000)
    with run_folder(work) as live:
        (live / "media.m4a").write_bytes(b"x" * 10)
        child = subprocess.run(
            [
                sys.executable,
                "-c",
                f"from asmr_zoo_sources.workdir import sweep; print(sweep(__import__('pathlib').Path({str(work)!r})))",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert child.stdout.strip() == "(2, 3000000)", "another process sweeps the dead runs' folders only"
        assert live.is_dir() and sorted(p.name for p in work.iterdir()) == [live.name]
        assert sweep(work) == (0, 0)
    assert not live.exists() and not work.exists(), "a run deletes its own folder when it ends, and the emptied one"
