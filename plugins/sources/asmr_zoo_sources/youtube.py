"""The ``youtube`` source: timestamped ASMR videos through yt-dlp's Python API.

An item is a video URL, a bare video id, or a saved info JSON (``yt-dlp --write-info-json``), so archived
metadata works without YouTube. Labels come from the best of its timestamp lists (``label_sources``):
chapters, description, and with ``comments=True`` the uploader's, pinned and viewers' comments; every
segment records the winner as its ``origin`` and why in ``extra["origin_reason"]``. The best audio is
downloaded once per video into a temporary directory, decoded by ffmpeg, and the labelled spans are cut
from it here. Nothing is downloaded for a video whose labels name no trigger.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from asmr_zoo.datasource import Segment
from asmr_zoo.errors import DataError
from asmr_zoo.triggers import UNKNOWN
from asmr_zoo.validation import load_json
from asmr_zoo_sources.base import Unit, UnitSource, cut, raiser, unlabelled
from asmr_zoo_sources.ffmpeg import fetched_audio
from asmr_zoo_sources.label_sources import choose_labels, duration_of, labelled_spans, trigger_of

_ID_RE = re.compile(r"[A-Za-z0-9_-]{11}")
_URL_ID_RE = re.compile(r"(?:[?&]v=|youtu\.be/|/shorts/|/embed/|/live/|/v/)([A-Za-z0-9_-]{11})(?![A-Za-z0-9_-])")
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
MAX_COMMENTS = 300


class _QuietLogger:
    """yt-dlp logger: errors surface as exceptions, everything else is dropped."""

    def debug(self, msg: str) -> None:
        pass

    info = warning = error = debug


def load_info_json(path: Path) -> dict[str, Any]:
    """A saved yt-dlp info JSON, checked for what we need; DataError otherwise."""
    try:
        info = load_json(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"info JSON {path} could not be read ({exc.__class__.__name__}: {exc})") from exc
    except ValueError as exc:  # not JSON, or nested deeper than it can be read
        raise DataError(f"info JSON {path} is not valid JSON ({exc}); save it with `yt-dlp --write-info-json`") from exc
    if not isinstance(info, dict):
        raise DataError(f"info JSON {path} holds a {type(info).__name__}, not a yt-dlp info object")
    if not isinstance(info.get("id"), str) or not info["id"]:
        raise DataError(f"info JSON {path} lacks the video 'id' field; save it with `yt-dlp --write-info-json`")
    return info


def _error_line(exc: BaseException) -> str:
    text = _ANSI_RE.sub("", str(exc)).replace("ERROR:", " ")
    return " ".join(text.split()) or type(exc).__name__


class YouTubeSource(UnitSource):
    """Timestamped videos from YouTube (or saved yt-dlp info JSON) cut into labelled segments."""

    name = "youtube"
    description = "timestamps in chapters, descriptions or comments of videos (yt-dlp)"

    def __init__(
        self,
        comments: bool = False,
        workdir: Path | None = None,
        extractors: Sequence[type] | None = None,
        ydl_params: dict[str, Any] | None = None,
    ) -> None:
        """``extractors``: use only these yt-dlp InfoExtractor classes (default: all of yt-dlp's);
        ``ydl_params``: extra YoutubeDL options; ``workdir``: where downloads are decoded (a temp dir)."""
        super().__init__()
        self.comments = comments
        self.workdir = Path(workdir) if workdir is not None else None
        self.extractors = list(extractors) if extractors is not None else None
        self.ydl_params = dict(ydl_params or {})

    # -- yt-dlp --------------------------------------------------------------------------------------

    def _ydl(self, tmp: Path | None = None) -> Any:
        from yt_dlp import YoutubeDL

        params: dict[str, Any] = {
            "quiet": True,
            "no_warnings": True,
            "noprogress": True,
            "logger": _QuietLogger(),
            "noplaylist": True,
            "cachedir": False,
            "getcomments": self.comments,
            "format": "bestaudio/best",
            "retries": 2,
            "fragment_retries": 2,
            "extractor_retries": 1,
            "socket_timeout": 30,
            "overwrites": True,
            # top-level comments only, the top few hundred: where timestamp lists are pinned or upvoted
            "extractor_args": {"youtube": {"max_comments": [str(MAX_COMMENTS), str(MAX_COMMENTS), "0", "0"]}},
        }
        if tmp is not None:
            params["outtmpl"] = {"default": str(tmp / "media.%(ext)s")}
            params["paths"] = {"home": str(tmp), "temp": str(tmp)}
        params.update(self.ydl_params)
        if self.extractors is None:
            return YoutubeDL(params)
        ydl = YoutubeDL(params, auto_init=False)
        for extractor in self.extractors:
            ydl.add_info_extractor(extractor())
        return ydl

    def fetch_info(self, url: str) -> dict[str, Any]:
        """The metadata of one video (with its comments when asked), through yt-dlp."""
        from yt_dlp.utils import DownloadError, ExtractorError

        try:
            with self._ydl() as ydl:
                info = ydl.extract_info(url, download=False)
        except (DownloadError, ExtractorError) as exc:
            raise DataError(f"could not read the video's metadata: {_error_line(exc)}") from exc
        if not isinstance(info, dict) or info.get("_type", "video") != "video":
            raise DataError(f"{url} is not a single video (playlists are not supported: list the videos)")
        return info

    def download_audio(self, info: dict[str, Any], tmp: Path) -> Path:
        """Download the best audio of ``info`` into ``tmp`` (once); return the file."""
        from yt_dlp.utils import DownloadError, ExtractorError

        if not info.get("formats") and not info.get("url"):
            raise DataError("its metadata lists no audio formats ('formats' or 'url'): nothing to download")
        try:
            with self._ydl(tmp) as ydl:
                result = ydl.process_ie_result(dict(info), download=True)
        except (DownloadError, ExtractorError) as exc:
            raise DataError(f"download failed: {_error_line(exc)}") from exc
        except Exception as exc:  # malformed metadata trips yt-dlp in many ways
            raise DataError(f"yt-dlp could not process its metadata ({type(exc).__name__}: {exc})") from exc
        files = [Path(d["filepath"]) for d in (result or {}).get("requested_downloads", []) if d.get("filepath")]
        files = [f for f in files if f.is_file()]
        if not files:
            raise DataError("download produced no file")
        return files[0]

    # -- units ---------------------------------------------------------------------------------------

    def _video_id_of_url(self, url: str) -> str:
        match = _URL_ID_RE.search(url)
        if match:
            return match.group(1)
        for extractor in self.extractors or ():
            if extractor.suitable(url) and extractor.get_temp_id(url):
                return str(extractor.get_temp_id(url))
        return "url-" + hashlib.sha1(url.encode()).hexdigest()[:12]

    def units(self, items: Sequence[str]) -> Iterator[Unit]:
        for item in items:
            path = Path(item)
            if path.suffix.lower() == ".json" or path.is_file():
                try:
                    info = load_info_json(path)
                except DataError as exc:
                    yield Unit(path.name, item, raiser(exc))
                    continue
                yield Unit(info["id"], item, lambda info=info: self._load(info["id"], info))
            elif _ID_RE.fullmatch(item):
                url = f"https://www.youtube.com/watch?v={item}"
                yield Unit(item, item, lambda url=url, vid=item: self._load(vid, self.fetch_info(url)))
            elif re.match(r"https?://", item):
                vid = self._video_id_of_url(item)
                yield Unit(vid, item, lambda url=item, vid=vid: self._load(vid, self.fetch_info(url)))
            else:
                yield Unit(
                    item,
                    item,
                    raiser(DataError(f"'{item}' is not a video URL, an 11-character video id or an info JSON file")),
                )

    def _load(self, video_id: str, info: dict[str, Any]) -> Iterator[Segment]:
        choice = choose_labels(info, self.comments)
        origin, why = choice.origin, {"origin_reason": choice.reason}
        if all(trigger_of(m) == UNKNOWN for m in choice.marks):
            self.report(
                f"{video_id}: none of its {len(choice.marks)} {origin} labels names a known trigger; "
                f"kept as unknown, nothing downloaded"
            )
            for span, _ in labelled_spans(choice.marks, duration_of(info)):
                yield unlabelled(video_id, span.label, span.start, span.end, origin, **why)
            return
        with fetched_audio(self.workdir, lambda tmp: self.download_audio(info, tmp)) as wav:
            for span, trigger in labelled_spans(choice.marks, wav.frames / wav.samplerate):
                if trigger == UNKNOWN:
                    yield unlabelled(video_id, span.label, span.start, span.end, origin, **why)
                    continue
                segment = cut(wav, span.start, span.end, trigger, span.label, video_id, origin)
                segment.extra.update(why)
                yield segment
