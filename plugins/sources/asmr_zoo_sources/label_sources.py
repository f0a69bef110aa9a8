"""Which of a video's timestamp lists labels it: description, chapters or a comment, chosen by quality.

A video can carry several lists: the uploader's description; YouTube's chapters, made from the
description or automatic and broad ("Tapping Sounds"); the uploader's own or pinned comments; viewers'
comments. Each is resolved against the video's duration and ranked by what it labels:

1. the distinct marks naming a trigger (``normalise_trigger`` is not ``unknown``), with a bonus of one for
   a list by the uploader (description, chapters, their comments, pinned comments);
2. of those, the marks naming a material too: the finer list wins a tie ("glass tapping" over "Tapping");
3. the share of the video their spans cover, to the nearest 10%;
4. by the uploader before by a viewer, then in this order: description, chapters, the uploader's and
   pinned comments, viewers' comments (most liked first).

A joke comment full of times ("2:00 still awake", "3:15 who else") names no trigger and ranks last. When
no list names a trigger, the first in that order is used and its rows stay ``unknown``.

A video whose title or description names a binaural mic ("3Dio", "KU100", "binaural ear mics") is taken as
recorded on it: its marks are ``binaural``, and a label's ears ("ear massage", "grattouilles sur les
oreilles", "耳のマッサージ") are that mic's. A bare technique ("brushing") gets no mic from the context: it
may be done on anything, nail tapping in a 3Dio video is tapping. When the title and the description's
prose (its lines without timestamps) name a binaural mic and no other mic, foam cover or brand, that is the
video's one mic: a mic word with no kind ("mic brushing", "tapping on the mic") is it.

A list splitting another list's section ("1:30 tapping vari" split by a viewer's "1:30 tapping vetro /
6:10 legno / 10:45 plastica") keeps that section's technique (``section_technique``) in its lines naming
only a material ("legno" is tapping_wood), when each of its lines there naming a technique names that one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from asmr_zoo.errors import DataError
from asmr_zoo.triggers import (
    UNKNOWN,
    named_mics,
    names_binaural,
    normalise_trigger,
    section_technique,
    split_trigger,
)
from asmr_zoo.validation import is_number
from asmr_zoo_sources.timestamps import Mark, Span, chapter_marks, parse_line, parse_timestamps, resolve_spans

MIN_COMMENT_TIMESTAMPS = 2  # a lone "3:45 lol" is a reaction, not a list of triggers
UPLOADER_BONUS = 1


@dataclass(frozen=True)
class Candidate:
    """One timestamp list of a video."""

    marks: list[Mark]
    origin: str  # the manifest's origin: chapter / description / comment
    name: str  # as the reason names it: "chapters", "description", "pinned uploader comment" ...
    by_uploader: bool


@dataclass(frozen=True)
class Quality:
    """What a list labels, resolved against the video's duration."""

    triggers: int  # distinct marks naming a trigger
    specific: int  # of them, those naming a material too
    coverage: float | None  # share of the duration their spans cover; None when the duration is unknown


@dataclass(frozen=True)
class LabelChoice:
    """The marks a video is labelled from, their origin, and why they won."""

    marks: list[Mark]
    origin: str
    reason: str


def duration_of(info: dict[str, Any]) -> float | None:
    """The video's duration in seconds from its metadata, if it is a positive number."""
    duration = info.get("duration")
    ok = is_number(duration) and duration > 0
    return float(duration) if ok else None


def labelled_spans(marks: list[Mark], duration: float | None) -> list[tuple[Span, str]]:
    """The spans of ``marks`` with the trigger each label names (or ``unknown``)."""
    return [(span, trigger_of(span)) for span in resolve_spans(marks, duration)]


def trigger_of(mark: Mark | Span) -> str:
    """The trigger a mark's or span's label names in its video's context (or ``unknown``)."""
    return normalise_trigger(mark.label, mark.binaural, mark.mic, mark.technique, mark.material)


def _texts(info: dict[str, Any]) -> list[str]:
    return [t for t in (info.get("title"), info.get("description")) if isinstance(t, str)]


def is_binaural(info: dict[str, Any]) -> bool:
    """Whether the video's title or description names a binaural mic."""
    return names_binaural("\n".join(_texts(info)))


def video_mic(info: dict[str, Any]) -> str:
    """What a mic word with no kind means in the video: ``bi_mic`` when its title and the description's
    prose (lines without marks, a time pointed at being a remark) name a binaural mic and no other kind of
    mic, else ``mic``."""
    prose = [line for text in _texts(info) for line in text.splitlines() if not parse_line(line, in_list=True)]
    return "bi_mic" if named_mics("\n".join(prose)) == {"bi_mic"} else "mic"


def _comment_name(comment: dict[str, Any]) -> str:
    """A comment as the reason names it: "pinned uploader comment", "uploader comment", "pinned comment"
    or "comment" (a viewer's)."""
    words = ["pinned"] if comment.get("is_pinned") is True else []
    if comment.get("author_is_uploader") is True:
        words.append("uploader")
    return " ".join([*words, "comment"])


def _likes(comment: dict[str, Any]) -> int:
    likes = comment.get("like_count")
    return likes if isinstance(likes, int) else 0


def candidates(info: dict[str, Any], comments: bool) -> list[Candidate]:
    """The video's timestamp lists: description, chapters, then (with ``comments``) the uploader's and
    pinned comments, then viewers' comments, most liked first. Lists without timestamps are left out.

    The description comes before the chapters, which YouTube usually makes from it: its teaser lines and
    remarks are read as such (``timestamps``), a chapter title is taken as it is. The marks of a video on a
    binaural mic (``is_binaural``) are ``binaural``, with its ``video_mic``; marks splitting another list's
    section take its technique (``_with_sections``)."""
    found = [
        Candidate(parse_timestamps(info.get("description") or ""), "description", "description", True),
        Candidate(chapter_marks(info.get("chapters") or []), "chapter", "chapters", True),
    ]
    if comments:
        thread = info.get("comments") if isinstance(info.get("comments"), list) else []
        listed = [c for c in thread if isinstance(c, dict) and isinstance(c.get("text"), str)]
        for comment in sorted(listed, key=lambda c: (_comment_name(c) == "comment", -_likes(c))):
            marks, name = parse_timestamps(comment["text"]), _comment_name(comment)
            if len(marks) >= MIN_COMMENT_TIMESTAMPS:
                found.append(Candidate(marks, "comment", name, name != "comment"))
    binaural, mic = is_binaural(info), video_mic(info)
    found = [replace(c, marks=[replace(m, binaural=binaural, mic=mic) for m in c.marks]) for c in found if c.marks]
    return _with_sections(found, duration_of(info))


def _with_sections(found: list[Candidate], duration: float | None) -> list[Candidate]:
    """The lists with each mark given the technique of the other lists' section it splits, if any."""
    spans = [resolve_spans(c.marks, duration) for c in found]
    sections = [[(s, t) for s in own if (t := section_technique(s.label))] for own in spans]
    result = []
    for k, candidate in enumerate(found):
        others = [section for j, own in enumerate(sections) if j != k for section in own]
        techniques = {span.start: _split_technique(span, spans[k], others) for span in spans[k]}
        marks = [replace(m, technique=m.technique or techniques.get(m.start)) for m in candidate.marks]
        result.append(replace(candidate, marks=marks))
    return result


def _split_technique(span: Span, own: list[Span], sections: list[tuple[Span, str]]) -> str | None:
    """The technique of the section ``span`` lies in, if every span of its own list there that names a
    technique names that one."""
    for section, technique in sections:
        inside = [s for s in own if section.start <= s.start and s.end <= section.end]
        if span not in inside:
            continue
        named = {split_trigger(t)[0] for t in map(trigger_of, inside) if t != UNKNOWN}
        if named <= {technique}:
            return technique
    return None


def quality(marks: list[Mark], duration: float | None) -> Quality:
    """How many distinct trigger marks ``marks`` hold, how many name a material, and what they cover."""
    named = [(span, trigger) for span, trigger in labelled_spans(marks, duration) if trigger != UNKNOWN]
    specific = sum(split_trigger(trigger)[1] is not None for _, trigger in named)
    covered = sum(span.end - span.start for span, _ in named)
    return Quality(len(named), specific, covered / duration if duration else None)


def _rank(candidate: Candidate, q: Quality) -> tuple[int, int, float, bool]:
    bonus = UPLOADER_BONUS if candidate.by_uploader and q.triggers else 0
    return q.triggers + bonus, q.specific, round(q.coverage or 0.0, 1), candidate.by_uploader


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def choose_labels(info: dict[str, Any], comments: bool) -> LabelChoice:
    """The best timestamp list of a video (see the module's docstring); DataError when it has none."""
    found = candidates(info, comments)
    if not found:
        where = "chapters, description or comments" if comments else "chapters or description (try --comments)"
        raise DataError(f"no timestamps found in its {where}")
    duration = duration_of(info)
    scored = [(c, quality(c.marks, duration)) for c in found]
    order = sorted(range(len(scored)), key=lambda i: (_rank(*scored[i]), -i), reverse=True)
    best, q = scored[order[0]]
    if not q.triggers:
        return LabelChoice(best.marks, best.origin, f"{best.name}: no list names a trigger")
    reason = f"{best.name}: {_plural(q.triggers, 'trigger mark')}"
    if q.coverage is not None:
        reason += f", {q.coverage:.0%} coverage"
    if len(order) > 1:
        other, other_q = scored[order[1]]
        reason += f", beat {other.name} ({other_q.triggers})"
    return LabelChoice(best.marks, best.origin, reason)
