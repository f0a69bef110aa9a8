"""What the built-in sources share: items expand into units (one per video), each loaded on its own.

A unit knows its video id before anything is downloaded, so a run can skip finished videos and split a
list across shards without touching the network; its ``load`` yields the video's segments lazily and
raises ``DataError`` for a problem with that video alone.
"""

from __future__ import annotations

import sys
from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from asmr_zoo.datasource import DataSource, Segment
from asmr_zoo.errors import DataError
from asmr_zoo.triggers import UNKNOWN


@dataclass
class Unit:
    """One video (or recording) of a source: its id, the item it came from, and how to load it."""

    video_id: str
    item: str
    load: Callable[[], Iterator[Segment]]


def _print_problem(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


class UnitSource(DataSource):
    """A DataSource whose items expand into independently loadable units.

    A unit's ``load`` should do its slow work (metadata, download, decoding) before its first segment: the
    build fetches units ahead in worker threads up to that point. A source that downloads sets ``workdir``;
    the build then gives each run its own folder under it (see ``workdir.py``)."""

    workdir: Path | None = None

    def __init__(self) -> None:
        self.report: Callable[[str], None] = _print_problem

    @abstractmethod
    def units(self, items: Sequence[str]) -> Iterator[Unit]:
        """The units (videos) in ``items``, cheaply: nothing is downloaded or decoded here."""

    def segments(self, items: Sequence[str]) -> Iterator[Segment]:
        for unit in self.units(items):
            try:
                yield from unit.load()
            except DataError as exc:
                self.report(f"{unit.video_id}: {exc}")


def unlabelled(video_id: str, raw_label: str, start: float, end: float | None, origin: str, **extra: object) -> Segment:
    """A segment kept in the manifest as ``unknown``: no audio is read for it."""
    return Segment(
        trigger=UNKNOWN,
        raw_label=raw_label,
        audio=np.zeros((0, 0), dtype=np.float32),
        sample_rate=0,
        start=start,
        end=end if end is not None else start,
        video_id=video_id,
        origin=origin,
        extra=dict(extra),
    )


def cut(
    wav: sf.SoundFile, start: float, end: float, trigger: str, raw_label: str, video_id: str, origin: str
) -> Segment:
    """Read ``[start, end)`` seconds of an open audio file as a segment of ``trigger``."""
    rate = wav.samplerate
    first = min(round(start * rate), wav.frames)
    wav.seek(first)
    audio = wav.read(max(0, round(end * rate) - first), dtype="float32", always_2d=True).T
    if not np.isfinite(audio).all():  # float files can hold them; they would poison every statistic downstream
        raise DataError(f"the audio has NaN or infinite samples in {start:g}-{end:g} s")
    return Segment(
        trigger,
        raw_label,
        np.ascontiguousarray(audio),
        rate,
        first / rate,
        (first + audio.shape[1]) / rate,
        video_id,
        origin,
    )


def raiser(exc: DataError) -> Callable[[], Iterator[Segment]]:
    """A unit loader that fails with ``exc``: for items that are broken before anything is loaded."""

    def load() -> Iterator[Segment]:
        raise exc

    return load
