"""The stereo clips of a data set, for the models that learn from stereo (the upmixer, the pan prior)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from asmr_zoo.errors import DataError


@dataclass(frozen=True)
class StereoClip:
    """One stereo clip of a data set."""

    video_id: str
    trigger: str
    split: str
    audio: np.ndarray  # (2, samples)


def stereo_clips(root: Path, rate: int) -> list[StereoClip]:
    """The data set's stereo clips, at ``rate``: each row's training copy when it is stereo, else its master when
    that is (``data synth`` keeps stereo masters; ``--channels 2`` makes stereo training copies)."""
    from asmr_zoo.audio import read_audio, resample
    from asmr_zoo.dataset import read_dataset

    clips = []
    for row in read_dataset(root):
        for path in (row.path, row.master):
            if path is None:
                continue
            audio, source_rate = read_audio(path)
            if audio.shape[0] == 2:
                clips.append(StereoClip(row.video_id, row.trigger, row.split, resample(audio, source_rate, rate)))
                break
    if not clips:
        raise DataError(
            f"{root} has no stereo audio (neither training copies nor masters): build one with "
            f"`asmr-zoo data synth --out DIR --channels 2`, or a source's `--channels 2`"
        )
    return clips
