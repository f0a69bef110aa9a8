"""``--label auto``: label unlabelled clips with the trigger classifier of ``asmr-zoo eval``.

The classifier (``asmr_zoo.generation_metrics.TriggerClassifier``) is fitted on the train split of a labelled
data set. A clip's confidence is the classifier's probability of its best trigger: the normalised geometric
mean of its windows' probabilities, the score ``TriggerClassifier.predict`` ranks by. At or above
``min_confidence`` the clip takes that trigger (``label_source: "classifier"``); below it, it stays
``unknown`` under ``unlabelled/`` with the guess in its note. Either way ``label_confidence`` is recorded,
and a clip is classified once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from asmr_zoo.dataset import DatasetWriter, ManifestRow, read_dataset
from asmr_zoo.errors import DataError, UsageError
from asmr_zoo.generation_metrics import FEATURE_RATE, TriggerClassifier
from asmr_zoo.triggers import UNKNOWN

CLASSIFIER = "classifier"
DEFAULT_MIN_CONFIDENCE = 0.8

Progress = Callable[[int, int], None]  # (clips read, total)


def check_min_confidence(value: float) -> float:
    if not 0 < value <= 1:
        raise UsageError(f"--min-confidence must be in (0, 1], e.g. 0.8, not {value}")
    return value


class AutoLabeller:
    """Labels clips with a fitted trigger classifier, keeping only confident labels."""

    def __init__(self, classifier: TriggerClassifier, min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> None:
        self.classifier = classifier
        self.min_confidence = check_min_confidence(min_confidence)

    @classmethod
    def fit(cls, data_dir: Path, min_confidence: float, progress: Progress | None = None) -> AutoLabeller:
        """Fit the classifier on the train split of the labelled data set ``data_dir``."""
        from asmr_zoo.audio import read_audio, resample, to_mono

        check_min_confidence(min_confidence)
        try:
            rows = [r for r in read_dataset(data_dir) if r.split == "train"]
        except DataError as exc:
            raise DataError(f"--classifier-data: {exc}") from exc
        if len({r.trigger for r in rows}) < 2:
            raise DataError(
                f"--classifier-data {data_dir} has training clips of {len({r.trigger for r in rows})} trigger(s); "
                f"the classifier needs at least two: use a data set of several triggers, e.g. one made by "
                f"`asmr-zoo data synth --out DIR`"
            )
        clips = []
        for done, row in enumerate(rows, 1):
            audio, rate = read_audio(row.path)
            clips.append((row.trigger, to_mono(resample(audio, rate, FEATURE_RATE))[0]))
            if progress is not None:
                progress(done, len(rows))
        return cls(TriggerClassifier(clips, FEATURE_RATE), min_confidence)

    def guess(self, audio: np.ndarray, rate: int) -> tuple[str, float]:
        """The most likely trigger of ``(channels, samples)`` audio and its probability."""
        log_p = self.classifier.log_proba(np.atleast_2d(audio).mean(axis=0), rate)
        p = np.exp(log_p - log_p.max())
        best = int(np.argmax(p))
        return self.classifier.classes[best], float(p[best] / p.sum())

    def label(self, row: ManifestRow, audio: np.ndarray, rate: int) -> None:
        """Give ``row`` (an unknown clip with ``audio``) the classifier's trigger when it is confident enough."""
        trigger, confidence = self.guess(audio, rate)
        row.label_confidence = round(confidence, 4)
        if confidence >= self.min_confidence:
            row.trigger, row.label_source, row.note = trigger, CLASSIFIER, ""
        else:
            row.note = f"classifier: {trigger} at {confidence:.0%}, under --min-confidence {self.min_confidence:g}"


def awaits_label(row: ManifestRow) -> bool:
    """An unlabelled clip the classifier has not seen yet."""
    return row.trigger == UNKNOWN and row.path is not None and row.label_confidence is None


def relabel_finished(writer: DatasetWriter, video_id: str, rows: list[ManifestRow], labeller: AutoLabeller) -> int:
    """Classify the unlabelled clips of a finished video in place (moving those that get a trigger into its
    folders) and rewrite its part; return how many got a trigger. Killed half-way, the video is redone."""
    from asmr_zoo.audio import read_audio

    waiting = [row for row in rows if awaits_label(row)]
    for row in waiting:  # every clip is read before any is moved: an unreadable one changes nothing
        labeller.label(row, *read_audio(writer.root / row.path))
    labelled = [row for row in waiting if row.trigger != UNKNOWN]
    for row in labelled:
        writer.move_to_trigger_folder(row)
    writer.write_part(video_id, rows)
    return len(labelled)
