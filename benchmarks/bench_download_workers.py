"""Ingest speed with parallel downloads: ``data youtube`` with 1 worker against N, in the same run.

An HTTP server on 127.0.0.1 serves one encoded recording (AAC in m4a) to every video, sleeping a fixed
latency before each answer to model the network; each video is a saved info JSON whose description lists
two trigger sections, so every video downloads once and gives two clips. The real ingest runs (yt-dlp,
ffmpeg, trimming, resampling, writing) into a fresh folder per measurement, the worker counts interleaved
and repeated. Usage: ``python benchmarks/bench_download_workers.py [--videos 12] [--latency 0.2]
[--seconds 20] [--repeats 3] [--workers 4]``.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from rich.console import Console

from asmr_zoo_sources.build import build_dataset
from asmr_zoo_sources.ffmpeg import find_ffmpeg
from asmr_zoo_sources.youtube import YouTubeSource

RATE = 48000


def make_media(folder: Path, seconds: float) -> None:
    """``video.m4a``: stereo noise bursts and tones, ``seconds`` long."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * RATE)) / RATE
    taps = np.sin(2 * np.pi * 2000 * t) * np.exp(-((t * 5) % 1) * 20)
    audio = 0.3 * taps[None] + 0.05 * rng.standard_normal((2, len(t)))
    sf.write(folder / "video.wav", audio.T.astype(np.float32), RATE)
    args = [find_ffmpeg(), "-nostdin", "-loglevel", "error", "-y", "-i", str(folder / "video.wav")]
    subprocess.run([*args, "-c:a", "aac", "-b:a", "128k", str(folder / "video.m4a")], check=True)


def serve(folder: Path, latency: float) -> tuple[str, http.server.ThreadingHTTPServer]:
    """An HTTP server for ``folder`` that waits ``latency`` seconds before each answer."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(latency)
            super().do_GET()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}", httpd


def write_items(folder: Path, base: str, videos: int, seconds: float) -> list[str]:
    """Info JSONs of ``videos`` videos: two trigger sections each, the audio from ``base``."""
    half = int(seconds // 2)
    items = []
    for k in range(videos):
        info = {
            "id": f"bench{k:06d}",
            "title": f"ASMR {k}",
            "duration": seconds,
            "extractor": "youtube",
            "extractor_key": "Youtube",
            "webpage_url": f"https://www.youtube.com/watch?v=bench{k:06d}",
            "description": f"0:00 glass tapping\n0:{half:02d} wood tapping",
            "formats": [
                {
                    "format_id": "140",
                    "url": f"{base}/video.m4a?v={k}",
                    "ext": "m4a",
                    "acodec": "mp4a.40.2",
                    "vcodec": "none",
                    "protocol": "http",
                }
            ],
        }
        path = folder / f"bench{k:06d}.info.json"
        path.write_text(json.dumps(info))
        items.append(str(path))
    return items


def clips_per_second(items: list[str], out: Path, workers: int) -> float:
    """One ingest of ``items`` into ``out`` (fresh) with ``workers``: clips written per second."""
    start = time.perf_counter()
    report = build_dataset(
        YouTubeSource(workdir=out / ".work"), items, out, workers=workers, console=Console(stderr=True, quiet=True)
    )
    elapsed = time.perf_counter() - start
    if report.failed:
        raise SystemExit(f"ingest failed: {report.failed[0]}")
    return report.written / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=12, help="videos per ingest (two clips each)")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds the server waits before each answer")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each video's audio")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per worker count")
    parser.add_argument("--workers", type=int, default=4, help="the worker count compared with 1")
    args = parser.parse_args()
    counts = (1, args.workers)
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        root = Path(tmp)
        (root / "media").mkdir()
        make_media(root / "media", args.seconds)
        base, httpd = serve(root / "media", args.latency)
        items = write_items(root, base, args.videos, args.seconds)
        rates: dict[int, list[float]] = {n: [] for n in counts}
        for repeat in range(args.repeats):
            for n in counts:  # interleaved: a shared machine's load falls on both alike
                rates[n].append(clips_per_second(items, root / f"out-{repeat}-{n}", n))
        httpd.shutdown()
    print(f"{args.videos} videos x 2 clips, {args.seconds:g} s of 48 kHz stereo AAC each, {args.latency:g} s latency")
    print(f"{'workers':>8}{'min':>9}{'median':>9}{'max':>9}  clips/s over {args.repeats} runs")
    for n in counts:
        print(f"{n:>8}{min(rates[n]):>9.2f}{statistics.median(rates[n]):>9.2f}{max(rates[n]):>9.2f}")
    ratio = statistics.median(rates[args.workers]) / statistics.median(rates[1])
    print(f"median ratio {args.workers} workers / 1 worker: {ratio:.2f}x")


if __name__ == "__main__":
    main()
