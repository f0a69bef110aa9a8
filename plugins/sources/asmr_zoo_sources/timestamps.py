"""Our own timestamp grammar for ASMR descriptions, comments and chapters.

yt-dlp's chapter parser wants ``mm:ss title`` at the start of a line; real ASMR channels write
``• Tapping on glass (1:20)``, ``[01:20 - 03:05] fluffy mic``, ``3. 12:40 whispering``, several times on
one line, or a label before the time. The grammar here:

- a time is ``m:ss``, ``mm:ss``, ``mmm:ss`` or ``h:mm:ss``, anywhere on a line (not a clock time such as
  ``10:30 pm``);
- two times joined by ``-``, ``–``, ``~``, ``to``, ``until`` ... form a range;
- a line's label is the text after its time, or before it when nothing follows; with several times on a
  line each label is the text after its own time, or before it when nothing follows the last time or
  every time is pointed at ("the glass tapping at 4:12, the 3dio massage at 17:40");
- bullets, numbering, brackets and separators around a label are stripped.

Nothing here raises on any text: the worst input yields no marks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

_TIME = r"(?:(?P<{p}h>\d{{1,2}}):(?P<{p}hm>[0-5]\d)|(?P<{p}m>\d{{1,3}})):(?P<{p}s>[0-5]\d)"
_RANGE_SEP = r"\s*(?:-{1,2}>?|–|—|~|→|to|until|till|through|thru)\s*"
_TOKEN_RE = re.compile(
    r"(?<![\d:.,/])"
    + _TIME.format(p="a")
    + r"(?:(?P<sep>"
    + _RANGE_SEP
    + r")"
    + _TIME.format(p="b")
    + r")?(?![\d]|:\d|\.\d)"
    + r"(?!\s*(?:[ap]\.?m\b\.?))",
    re.IGNORECASE,
)
# Bullets, numbering, emoji and separators that surround labels but are not part of them.
_LEAD_RE = re.compile(r"^(?:[^\w(\[]|[(\[]\s*[)\]]|\d{1,2}[.)](?:\s|$)|#\d+\b|\d{1,2}\s*[-–—:](?:\s|$))+")
_TRAIL_RE = re.compile(r"(?:[^\w)\]!?]|[(\[]\s*[)\]]|\s(?:at|from|starts?|begins?|@))+$", re.IGNORECASE)
# Running text points at a time from the words before it: "the glass tapping at 4:12".
_POINTER_RE = re.compile(r"(?:\b(?:at|from|around)|@)\s*[(\[]?\s*$", re.IGNORECASE)
_WRAPPED_RE = re.compile(r"^(?:\([^()]*\)|\[[^\[\]]*\])$")
_BRACKETS = str.maketrans("", "", "[](){}")


@dataclass(frozen=True)
class Mark:
    """A labelled time found in text: ``end`` is set only for an explicit range."""

    start: float
    label: str
    end: float | None = None


@dataclass(frozen=True)
class Span:
    """A resolved segment: where it starts and ends in the recording, and its raw label."""

    start: float
    end: float
    label: str


def _seconds(match: re.Match[str], p: str) -> float:
    if match.group(f"{p}h") is not None:
        minutes = int(match.group(f"{p}h")) * 60 + int(match.group(f"{p}hm"))
    else:
        minutes = int(match.group(f"{p}m"))
    return float(minutes * 60 + int(match.group(f"{p}s")))


def clean_label(text: str) -> str:
    """Strip bullets, numbering, brackets and separators around a label; collapse whitespace."""
    text = " ".join(text.split())
    previous = None
    while previous != text:
        previous = text
        text = _LEAD_RE.sub("", text)
        text = _TRAIL_RE.sub("", text).strip()
    if text.count("(") != text.count(")") or text.count("[") != text.count("]"):
        text = text.translate(_BRACKETS).strip()
    elif _WRAPPED_RE.match(text):
        text = text[1:-1].strip()
    return text


def parse_line(line: str) -> list[Mark]:
    """The marks on one line of text."""
    tokens = list(_TOKEN_RE.finditer(line))
    if not tokens:
        return []
    pieces = [line[: tokens[0].start()]]
    pieces += [line[a.end() : b.start()] for a, b in pairwise(tokens)]
    pieces.append(line[tokens[-1].end() :])
    cleaned = [clean_label(p) for p in pieces]
    before, after = cleaned[0], cleaned[-1]
    if len(tokens) == 1:
        labels = [f"{before} {after}".strip() if before and after else before or after]
    elif after and not all(_POINTER_RE.search(p) for p in pieces[:-1]):
        labels = cleaned[1:]  # each label follows its time
    else:
        labels = cleaned[:-1]  # each label precedes its time
    marks = []
    for token, label in zip(tokens, labels, strict=True):
        start = _seconds(token, "a")
        end = _seconds(token, "b") if token.group("sep") is not None else None
        marks.append(Mark(start, label, end if end is not None and end > start else None))
    return marks


def parse_timestamps(text: str) -> list[Mark]:
    """All marks in ``text``, in the order written. Never raises."""
    if not isinstance(text, str):
        return []
    return [mark for line in text.splitlines() for mark in parse_line(line)]


def chapter_marks(chapters: Iterable[object]) -> list[Mark]:
    """Marks from yt-dlp's ``chapters`` (dicts: start_time, end_time, title); bad entries are skipped."""
    marks = []
    for chapter in chapters or ():
        if not isinstance(chapter, dict):
            continue
        try:
            start = float(chapter.get("start_time"))
        except (TypeError, ValueError):
            continue
        try:
            end: float | None = float(chapter.get("end_time"))
        except (TypeError, ValueError):
            end = None
        marks.append(Mark(start, clean_label(str(chapter.get("title") or "")), end if end and end > start else None))
    return marks


def resolve_spans(marks: Sequence[Mark], duration: float | None) -> list[Span]:
    """Turn marks into spans: sorted by start, duplicates dropped (first label wins), times beyond the
    recording dropped; each ends at its range end, else the next start, else the end of the recording.
    A last span with no known end is dropped."""
    limit = duration if duration is not None and duration > 0 else None
    seen: set[float] = set()
    ordered: list[Mark] = []
    for mark in sorted(marks, key=lambda m: m.start):
        if mark.start in seen or mark.start < 0 or (limit is not None and mark.start >= limit):
            continue
        seen.add(mark.start)
        ordered.append(mark)
    spans = []
    for i, mark in enumerate(ordered):
        end = mark.end if mark.end is not None else (ordered[i + 1].start if i + 1 < len(ordered) else limit)
        if end is None:
            continue
        if limit is not None:
            end = min(end, limit)
        if end > mark.start:
            spans.append(Span(mark.start, end, mark.label))
    return spans
