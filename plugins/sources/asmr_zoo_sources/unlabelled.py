"""``data youtube --unlabelled``: the youtube source, keeping the audio of spans whose label names no trigger.

The plain source downloads nothing for a video whose labels name no trigger and yields its other spans
without audio; this one downloads every video with timestamps and cuts every span of the winning list,
the spans without a trigger as ``unknown`` (written under ``unlabelled/``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from asmr_zoo.datasource import Segment
from asmr_zoo_sources.base import cut
from asmr_zoo_sources.ffmpeg import fetched_audio
from asmr_zoo_sources.label_sources import choose_labels, labelled_spans
from asmr_zoo_sources.youtube import YouTubeSource


class UnlabelledYouTubeSource(YouTubeSource):
    """Timestamped videos cut into segments, with or without a trigger."""

    def _load(self, video_id: str, info: dict[str, Any]) -> Iterator[Segment]:
        choice = choose_labels(info, self.comments)
        with fetched_audio(self.workdir, lambda tmp: self.download_audio(info, tmp)) as wav:
            for span, trigger in labelled_spans(choice.marks, wav.frames / wav.samplerate):
                segment = cut(wav, span.start, span.end, trigger, span.label, video_id, choice.origin)
                segment.extra["origin_reason"] = choice.reason
                yield segment
