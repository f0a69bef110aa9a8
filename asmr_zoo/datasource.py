"""The DataSource interface and the Segment it yields; free of torch, so data commands start fast."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np


@dataclass
class Segment:
    """A labelled stretch of audio from a source: what a DataSource yields."""

    trigger: str  # a taxonomy name, or "unknown"
    raw_label: str
    audio: np.ndarray  # float32 (channels, samples), the stereo (or mono) master
    sample_rate: int
    start: float  # seconds in the source recording
    end: float
    video_id: str
    origin: str  # chapter / description / comment / folder / manifest / synthetic
    extra: dict[str, Any] = field(default_factory=dict)


class DataSource(ABC):
    """Yields labelled segments from items (URLs, ids, files, folders, rows)."""

    name: ClassVar[str]
    description: ClassVar[str] = ""

    @abstractmethod
    def segments(self, items: Sequence[str]) -> Iterator[Segment]:
        """Yield the segments found in ``items``; problems with one item are reported, not raised."""
