"""The youtube source, offline: yt-dlp downloads from an HTTP server on 127.0.0.1, real ffmpeg decodes.

Saved info JSON files point their formats at the local server; comments come through a small test
InfoExtractor, the only extractor that source is given. Nothing here reaches the internet: in-process
sockets may only connect to 127.0.0.1, and subprocesses get a dead proxy for anything else.
"""

from __future__ import annotations

import functools
import http.server
import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from yt_dlp.extractor.common import InfoExtractor

from asmr_zoo.dataset import read_dataset, read_manifest
from asmr_zoo.errors import DataError
from asmr_zoo_sources.build import build_dataset
from asmr_zoo_sources.label_sources import choose_labels
from asmr_zoo_sources.youtube import YouTubeSource

RATE = 48000
OFFLINE_ENV = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1",
}
DESCRIPTION = "Timestamps ✨\n0:00 intro\n0:02 glass tapping\n• 0:06 fluffy mic brushing\n0:10 outro 💤"


def _video_audio() -> np.ndarray:
    """12 s of stereo: talking-like noise, tapping bursts at 2-6 s, silence then noise at 6-10 s, outro."""
    rng = np.random.default_rng(0)
    t = np.arange(12 * RATE) / RATE
    audio = np.zeros((2, len(t)), dtype=np.float32)
    audio[:, : 2 * RATE] = 0.1 * rng.standard_normal((2, 2 * RATE))
    taps = np.sin(2 * np.pi * 2000 * t) * np.exp(-((t * 5) % 1) * 20)
    audio[:, 2 * RATE : 6 * RATE] = 0.4 * taps[2 * RATE : 6 * RATE]
    audio[:, 7 * RATE : 10 * RATE] = 0.2 * rng.standard_normal((2, 3 * RATE))
    audio[:, 10 * RATE :] = 0.05 * rng.standard_normal((2, 2 * RATE))
    return audio


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Files to serve: a good m4a, an HTML page, a truncated m4a, a video without audio."""
    root = tmp_path_factory.mktemp("media")
    sf.write(root / "video.wav", _video_audio().T, RATE)
    _ffmpeg("-i", str(root / "video.wav"), "-c:a", "aac", "-b:a", "128k", str(root / "video.m4a"))
    data = (root / "video.m4a").read_bytes()
    (root / "truncated.m4a").write_bytes(data[: len(data) // 3])
    (root / "page.html").write_text("<!doctype html><html><body>Sign in to confirm you're not a bot</body></html>")
    _ffmpeg("-f", "lavfi", "-i", "color=c=black:s=32x32:d=1", "-an", "-c:v", "mpeg4", str(root / "mute.mp4"))
    return root


class _Handler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def do_GET(self) -> None:
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server(media: Path) -> Iterator[tuple[str, list[str]]]:
    """``(base URL, list of requested paths)`` of an HTTP server on 127.0.0.1 serving ``media``."""
    requests: list[str] = []
    handler = type("Handler", (_Handler,), {"requests": requests})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(media)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", requests
    httpd.shutdown()


@pytest.fixture(autouse=True)
def no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process sockets may connect to 127.0.0.1 only."""
    connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "localhost"):
            raise AssertionError(f"test tried to reach {address}")
        return connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


def _format(url: str, ext: str = "m4a") -> dict[str, Any]:
    return {
        "format_id": "140",
        "url": url,
        "ext": ext,
        "acodec": "mp4a.40.2",
        "vcodec": "none",
        "abr": 128,
        "protocol": "http",
    }


def write_info(folder: Path, video_id: str, url: str, description: str = DESCRIPTION, **extra: Any) -> Path:
    """A saved info JSON as ``yt-dlp --write-info-json`` writes it (the fields that matter)."""
    info = {
        "id": video_id,
        "title": f"ASMR {video_id}",
        "duration": 12,
        "extractor": "youtube",
        "extractor_key": "Youtube",
        "webpage_url": f"https://www.youtube.com/watch?v={video_id}",
        "description": description,
        "formats": [_format(url)],
        **extra,
    }
    path = folder / f"ASMR {video_id} [{video_id}].info.json"
    path.write_text(json.dumps(info))
    return path


def _duration(path: Path) -> float:
    info = sf.info(str(path))
    return info.frames / info.samplerate


def test_info_json_is_downloaded_once_extracted_and_cut(tmp_path: Path, server: tuple[str, list[str]]) -> None:
    base, requests = server
    item = write_info(tmp_path, "aaaaaaaaaaa", f"{base}/video.m4a")
    out = tmp_path / "data"
    before = len(requests)
    report = build_dataset(YouTubeSource(workdir=out / ".work"), [str(item)], out)
    assert report.processed == ["aaaaaaaaaaa"] and not report.failed
    assert requests[before:] == ["/video.m4a"], "the audio is downloaded once per video"

    rows = {r.trigger: r for r in read_dataset(out)}
    assert set(rows) == {"tapping_glass", "brushing_sponge_mic"}
    tapping, brushing = rows["tapping_glass"], rows["brushing_sponge_mic"]
    assert (
        tapping.path
        == (
            out / "tapping_glass" / f"aaaaaaaaaaa_{round(tapping.start * 1000)}_{round(tapping.end * 1000)}.wav"
        ).resolve()
    )
    assert 1.95 <= tapping.start <= 2.05 and 5.7 <= tapping.end <= 6.0
    assert 6.85 <= brushing.start <= 7.0, "the leading second of silence is trimmed"
    assert 9.95 <= brushing.end <= 10.0
    for row in rows.values():
        assert abs(_duration(row.path) - (row.end - row.start)) < 0.01
        info = sf.info(str(row.path))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        master = sf.info(str(row.master))
        assert (master.samplerate, master.channels) == (RATE, 2)
        audio, _ = sf.read(str(row.path))
        peak, rms = np.abs(audio).max(), np.sqrt(np.mean(audio**2))
        assert peak <= 0.9, "never clipped"
        assert 0.09 < rms < 0.11 or peak > 0.88, "loudness normalised (-20 dBFS RMS, or peak-limited)"
        assert row.origin == "description"

    manifest = read_manifest(out)
    assert [(m.raw_label, m.trigger, m.path) for m in manifest if m.trigger == "unknown"] == [
        ("intro", "unknown", None),
        ("outro", "unknown", None),
    ]
    assert all(m.source == str(item) for m in manifest)

    again = build_dataset(YouTubeSource(workdir=out / ".work"), [str(item)], out)
    assert again.skipped == ["aaaaaaaaaaa"] and not again.processed
    assert requests[before:] == ["/video.m4a"], "a rerun skips finished videos without downloading"


def test_the_list_naming_more_triggers_wins(server: tuple[str, list[str]]) -> None:
    chapters = [
        {"start_time": 0, "end_time": 6, "title": "Tapping on glass"},
        {"start_time": 6, "end_time": 12, "title": "Mic brushing"},
    ]
    choice = choose_labels({"chapters": chapters, "description": "no times here"}, comments=False)
    assert choice.origin == "chapter" and [m.label for m in choice.marks] == ["Tapping on glass", "Mic brushing"]
    assert choice.reason == "chapters: 2 trigger marks"
    choice = choose_labels({"chapters": chapters, "description": DESCRIPTION}, comments=False)
    assert choice.origin == "description", "a tie goes to the description, read with its teasers and remarks"
    assert choice.reason == "description: 2 trigger marks, beat chapters (2)"
    generic = [
        {"start_time": 0, "end_time": 6, "title": "Part 1"},
        {"start_time": 6, "end_time": 12, "title": "Part 2"},
    ]
    choice = choose_labels({"chapters": generic, "description": DESCRIPTION, "duration": 12}, comments=False)
    assert choice.origin == "description"
    assert choice.reason == "description: 2 trigger marks, 67% coverage, beat chapters (0)"
    choice = choose_labels({"chapters": generic, "description": "no times here"}, comments=False)
    assert choice.origin == "chapter" and [m.label for m in choice.marks] == ["Part 1", "Part 2"]
    assert choice.reason == "chapters: no list names a trigger"
    with pytest.raises(DataError, match=r"no timestamps found .*try --comments"):
        choose_labels({"description": "just a nice video"}, comments=False)


class LocalAsmrIE(InfoExtractor):
    """A test extractor for http://127.0.0.1:<port>/watch/<id>: metadata and comments, no network."""

    _VALID_URL = r"http://127\.0\.0\.1:(?P<port>\d+)/watch/(?P<id>[A-Za-z0-9_-]+)"
    IE_NAME = "localasmr"

    def _real_extract(self, url: str) -> dict[str, Any]:
        video_id = self._match_id(url)
        port = self._match_valid_url(url).group("port")
        return {
            "id": video_id,
            "title": "ASMR with timestamps in the comments",
            "description": "Enjoy! No timestamps here, see the pinned comment.",
            "duration": 12,
            "formats": [_format(f"http://127.0.0.1:{port}/video.m4a")],
            "__post_extractor": self.extract_comments(video_id),
        }

    def _get_comments(self, video_id: str) -> Iterator[dict[str, Any]]:
        yield {"id": "c1", "text": "3:45 lol 😂", "author": "viewer"}
        yield {
            "id": "c2",
            "text": "Timestamps:\n0:02 glass tapping\n0:06 fluffy mic brushing\n0:10 outro",
            "author": "helpful viewer",
        }
        yield {"id": "c3", "text": "the tapping at 0:03 and 0:05 😴", "author": "sleepy"}


def test_comments_through_an_info_extractor(tmp_path: Path, server: tuple[str, list[str]]) -> None:
    base, _ = server
    url = f"{base}/watch/commented1"
    out = tmp_path / "data"
    report = build_dataset(YouTubeSource(comments=True, extractors=[LocalAsmrIE]), [url], out)
    assert report.processed == ["commented1"], report.failed
    rows = read_dataset(out)
    assert sorted(r.trigger for r in rows) == ["brushing_sponge_mic", "tapping_glass"]
    assert {r.origin for r in rows} == {"comment"}
    segments = list(YouTubeSource(comments=True, extractors=[LocalAsmrIE]).segments([url]))
    assert {s.extra["origin_reason"] for s in segments} == {"comment: 2 trigger marks, 67% coverage, beat comment (1)"}

    problems: list[str] = []
    source = YouTubeSource(comments=False, extractors=[LocalAsmrIE])
    source.report = problems.append
    assert list(source.segments([url])) == []
    assert problems == ["commented1: no timestamps found in its chapters or description (try --comments)"]


def test_bad_inputs_are_reported_per_video_and_the_rest_is_processed(
    tmp_path: Path, server: tuple[str, list[str]], cli: Any
) -> None:
    base, _ = server
    (tmp_path / "notjson.info.json").write_text("{ this is not json")
    (tmp_path / "noid.info.json").write_text(json.dumps({"title": "no id", "description": DESCRIPTION}))
    items = [
        write_info(tmp_path, "good0000001", f"{base}/video.m4a"),
        tmp_path / "notjson.info.json",
        tmp_path / "noid.info.json",
        write_info(tmp_path, "noformats01", f"{base}/video.m4a", formats=[]),
        write_info(tmp_path, "htmlpage001", f"{base}/page.html"),
        write_info(tmp_path, "truncated01", f"{base}/truncated.m4a"),
        write_info(tmp_path, "missing0001", f"{base}/does-not-exist.m4a"),
        write_info(tmp_path, "noaudio0001", f"{base}/mute.mp4"),
        write_info(tmp_path, "notimes0001", f"{base}/video.m4a", description="Relaxing sounds, no talking."),
        write_info(
            tmp_path,
            "shellmeta01",
            f"{base}/video.m4a",
            description="0:00 intro\n0:02 tapping on glass; rm -rf ~ && touch pwned $(touch pwned2) "
            "`touch pwned3` > pwned4 | tee pwned5\n0:06 outro",
        ),
    ]
    result = cli("data", "youtube", *map(str, items), "--out", str(tmp_path / "data"), env=OFFLINE_ENV)
    assert result.returncode == 0, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 8, result.stderr
    messages = "\n".join(errors)
    for expected in [
        "notjson.info.json: info JSON",
        "is not valid JSON",
        "noid.info.json: info JSON",
        "lacks the video 'id' field",
        "noformats01: its metadata lists no audio formats",
        "htmlpage001: ffmpeg could not decode",
        "truncated01: ffmpeg could not decode",
        "missing0001: download failed: ",
        "404",
        "noaudio0001: ",
        "has no audio stream",
        "notimes0001: no timestamps found",
    ]:
        assert expected in messages, (expected, messages)
    assert "Traceback" not in result.stderr
    assert "2 processed, 0 already done, 8 failed" in result.stdout
    manifest = read_manifest(tmp_path / "data")
    assert {m.video_id for m in manifest} == {"good0000001", "shellmeta01"}
    (meta,) = [m for m in manifest if m.video_id == "shellmeta01" and m.trigger != "unknown"]
    assert meta.trigger == "tapping_glass" and "$(touch pwned2)" in meta.raw_label
    assert not list(tmp_path.rglob("pwned*")), "no shell ever saw the label"

    failing = [str(p) for p in items[1:9]]
    result = cli("data", "youtube", *failing, "--out", str(tmp_path / "bad"), env=OFFLINE_ENV)
    assert result.returncode != 0
    assert "error: nothing could be processed: all 8 videos failed" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_only_videos_are_kept_without_downloading(tmp_path: Path, server: tuple[str, list[str]]) -> None:
    base, requests = server
    item = write_info(
        tmp_path,
        "talkonly001",
        f"{base}/video.m4a",
        description="0:00 intro\n3:00 Q&A with my cat\n10:00 outro",
    )
    before = len(requests)
    problems: list[str] = []
    source = YouTubeSource()
    source.report = problems.append
    segments = list(source.segments([str(item)]))
    assert [(s.raw_label, s.trigger, s.start, s.end) for s in segments] == [("intro", "unknown", 0.0, 12.0)], (
        "times beyond the 12 s video are dropped"
    )
    assert requests[before:] == []
    assert problems and "names a known trigger" in problems[0]
    assert segments[0].origin == "description"
    assert segments[0].extra == {"origin_reason": "description: no list names a trigger"}


def test_items_that_are_neither_urls_ids_nor_files(tmp_path: Path) -> None:
    source = YouTubeSource()
    (unit,) = source.units(["not a video"])
    with pytest.raises(DataError, match="not a video URL"):
        list(unit.load())
    (unit,) = source.units(["https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=10"])
    assert unit.video_id == "dQw4w9WgXcQ"
    (unit,) = source.units(["-0JvV2HKwVI"])
    assert unit.video_id == "-0JvV2HKwVI"
