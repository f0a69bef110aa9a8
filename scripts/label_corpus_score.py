"""Score the youtube source's labels against a careful human labeller, on the corpus in tests/data/label_corpus/.

Each corpus file holds yt-dlp-like info (id, duration, description, chapters, comments) and the segments a
human labeller gives from reading it (``labelled``: start, end as ``m:ss`` or ``h:mm:ss``, and trigger).
For every file this runs the source's own label choosing (comments on), span resolution against the
video's duration and ``normalise_trigger``: everything up to the labelled spans, no audio. A segment is
found when its trigger matches and both its times are within 0.5 s; unknown spans are not segments. The
``times`` column is the recall of the labeller's times alone, whatever label the source read there: a
segment whose times are found but not its trigger is a label miss, mostly vocabulary (``normalise_trigger``)
but also a label taken from the wrong side of its time; one whose times are not found is a selection or
grammar miss (the wrong list chosen, a time split or lost).

    python scripts/label_corpus_score.py [CORPUS_DIR] [--misses]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asmr_zoo.errors import DataError
from asmr_zoo.triggers import UNKNOWN
from asmr_zoo_sources.label_sources import choose_labels, duration_of, labelled_spans

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "label_corpus"
TOLERANCE = 0.5  # seconds
LANGUAGES = ("en", "es", "fr", "de", "pt", "it", "ja", "ko")

Segment = tuple[float, float, str]  # start, end, trigger


@dataclass
class Tally:
    """Segments a labeller gave, how many of them the source found, and how many the source gave."""

    files: int = 0
    labelled: int = 0
    found: int = 0
    given: int = 0
    timed: int = 0  # labelled segments whose times the source found, whatever their label

    @property
    def recall(self) -> float:
        return self.found / self.labelled if self.labelled else 1.0

    @property
    def precision(self) -> float:
        return self.found / self.given if self.given else 1.0

    @property
    def times(self) -> float:
        return self.timed / self.labelled if self.labelled else 1.0

    def add(self, other: Tally) -> None:
        self.files += other.files
        self.labelled += other.labelled
        self.found += other.found
        self.given += other.given
        self.timed += other.timed


def seconds(value: str | float) -> float:
    """``"1:02:03"`` or ``"2:03"`` (or a number of seconds) as seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    total = 0
    for part in value.split(":"):
        total = total * 60 + int(part)
    return float(total)


def labelled(info: dict[str, Any]) -> list[Segment]:
    """The human labeller's segments of a corpus file."""
    return [(seconds(s["start"]), seconds(s["end"]), s["trigger"]) for s in info["labelled"]]


def resolved(info: dict[str, Any]) -> list[Segment]:
    """All the source's spans for a corpus file, ``unknown`` ones included (none without timestamps)."""
    try:
        choice = choose_labels(info, comments=True)
    except DataError:
        return []
    return [(span.start, span.end, trigger) for span, trigger in labelled_spans(choice.marks, duration_of(info))]


def same_times(a: Segment, b: Segment) -> bool:
    return abs(a[0] - b[0]) <= TOLERANCE and abs(a[1] - b[1]) <= TOLERANCE


def compare(expected: list[Segment], spans: list[Segment]) -> tuple[Tally, list[str]]:
    """The tally of one file, and a line for each of the labeller's segments missed (with the label the
    source read at its times, if it found them) and each of the source's segments that is wrong."""
    unmatched = [s for s in spans if s[2] != UNKNOWN]
    tally, problems = Tally(1, len(expected), 0, len(unmatched), 0), []
    for segment in expected:
        hit = next((s for s in unmatched if s[2] == segment[2] and same_times(s, segment)), None)
        read = next((s[2] for s in spans if same_times(s, segment)), None)
        tally.found += hit is not None
        tally.timed += read is not None
        if hit is not None:
            unmatched.remove(hit)
        elif read is not None:
            problems.append(f"missed {_show(segment)}: times found, label read as {read}")
        else:
            problems.append(f"missed {_show(segment)}: times not found")
    for segment in unmatched:
        meant = next((e[2] for e in expected if same_times(e, segment)), None)
        problems.append(f"wrong {_show(segment)}: " + (f"the labeller says {meant}" if meant else "not labelled"))
    return tally, problems


def load(folder: Path = CORPUS) -> list[tuple[str, dict[str, Any]]]:
    """The corpus files of ``folder`` as ``(name, info)``, sorted by name."""
    return [(p.stem, json.loads(p.read_text(encoding="utf-8"))) for p in sorted(Path(folder).glob("*.json"))]


def score(folder: Path = CORPUS, misses: list[str] | None = None) -> dict[str, Tally]:
    """Tallies per language and ``"all"``; with ``misses``, one line per missed or wrong segment is added."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    for name, info in load(folder):
        tally, problems = compare(labelled(info), resolved(info))
        tallies[info["language"]].add(tally)
        tallies["all"].add(tally)
        if misses is not None:
            misses += [f"{name}: {problem}" for problem in problems]
    return dict(tallies)


def _show(segment: Segment) -> str:
    start, end, trigger = segment
    return f"{start // 60:.0f}:{start % 60:04.1f}-{end // 60:.0f}:{end % 60:04.1f} {trigger}"


def table(tallies: dict[str, Tally]) -> str:
    """The figures as printed: one line per language, then all."""
    head = ("lang", "files", "labelled", "found", "given", "recall", "precision", "times")
    rows = ["{:<5} {:>5} {:>8} {:>5} {:>5} {:>6} {:>9} {:>5}".format(*head)]
    for lang in [*[lang for lang in LANGUAGES if lang in tallies], "all"]:
        t = tallies[lang]
        figures = (lang, t.files, t.labelled, t.found, t.given, t.recall, t.precision, t.times)
        rows.append("{:<5} {:>5} {:>8} {:>5} {:>5} {:>6.2f} {:>9.2f} {:>5.2f}".format(*figures))
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=CORPUS)
    parser.add_argument("--misses", action="store_true", help="list every missed and wrong segment")
    args = parser.parse_args(argv)
    misses: list[str] = []
    print(table(score(args.corpus, misses)))
    if args.misses:
        print("\n".join(misses))


if __name__ == "__main__":
    main()
