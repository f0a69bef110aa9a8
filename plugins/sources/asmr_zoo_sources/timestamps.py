"""Our own timestamp grammar for ASMR descriptions, comments and chapters.

yt-dlp's chapter parser wants ``mm:ss title`` at the start of a line; real ASMR channels write
``• Tapping on glass (1:20)``, ``[01:20 - 03:05] fluffy mic``, ``3. 12:40 whispering``, several times on
one line, or a label before the time. The grammar here:

- a time is ``m:ss``, ``mm:ss``, ``mmm:ss`` or ``h:mm:ss`` (full-width digits too), anywhere on a line, but
  not a clock time (``10:30 pm``, ``22:00 h``, ``20:00 Uhr``, ``21:00 CET``);
- two times joined by ``-``, ``–``, ``~``, ``〜``, ``to``, ``until``, ``a``, ``à``, ``bis``, ``até``,
  ``hasta``, ``ao``, ``alle``, ``から`` (``まで`` after), ``부터`` (``까지`` after) ... form a range, and so do two
  joined by "and" after "between" ("entre 5:30 e 11:00", "zwischen 1:00 und 4:00");
- a line's label is the text after its time, or before it when nothing follows; with several times on a
  line each label is the text after its own time, or before it when nothing follows the last time; when
  every time is pointed at, each label is the clause pointing at it ("the glass tapping at 4:12, the 3dio
  massage at 17:40", "tapping en botellas de 1:30 a 6:00"), or when the pointer stands alone the first clause
  after it that says something ("then at 8:00 I brush the mic", "y al final, de 25:10 a 26:40, golpecitos");
- teasers take no slot: a time in a clause with a teasing word ("skip to 2:15 for the best part", "my
  favourite is at 17:00", "salta al 3:20", "springt zu 3:00", "3:00へスキップ") is not a mark, nor is a time
  at the start of a line whose own clause teases ("17:00 👈 my favourite");
- a list line starts with its time or range (after bullets, numbering, brackets, emoji, or a pointer before
  a range: "de 0:30 a 5:00"), or has it in brackets right after its label ("Cork tapping (0:58:40)"); a
  later time on it in a bracketed remark or pointed at ("at", "from", "around", "a las", "à partir de",
  "bei", "em", "do", "alle", "17:00から", "7:30부터", "10:30에") belongs to a remark about the label, so the
  remark is dropped and does not split the section: ``12:30 brushing the mic (my favourite bit is at 17:00)``
  is one mark, "brushing the mic", and so is ``Scratching the desk (0:44:20) — my fave, esp. around 0:50:00``;
- in a text holding a list (two list lines or more), a time pointed at on a line of prose is a remark too,
  not a mark: "Live ce soir à 21:00 sur Twitch", "Replay della live (iniziata alle 21:30)", a range opened
  there and left without an end among them ("本日21:00～配信");
- on a line writing its sections as ranges, a lone time in a bracketed aside with words is a remark on one of
  them: "do 5:30 ao 11:00 massagem (lá para os 8:15 ouvem-se uns sons de boca)";
- bullets, numbering, brackets and separators around a label are stripped.

Nothing here raises on any text: the worst input yields no marks.
"""

from __future__ import annotations

import dataclasses
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from asmr_zoo.triggers import label_parts

_TIME = r"(?:(?P<{p}h>\d{{1,2}}):(?P<{p}hm>[0-5]\d)|(?P<{p}m>\d{{1,3}})):(?P<{p}s>[0-5]\d)"
_RANGE_SEP = (
    r"\s*(?:-{1,2}>?|–|—|~|〜|～|→|to|until|till|through|thru|bis|até|hasta(?: el| la| las)?|alle|al|ao|aos|à|a"
    r"|から|부터)\s*"
)
# What closes a range after its end: "11:30から17:00まで", "1:00부터 6:00까지".
_RANGE_CLOSE = r"(?:\s*(?:まで|까지))?"
# A clock time, not a timestamp: "10:30 pm", "22:00 h", "20:00 Uhr", "21:00 CET", "9:00 (GMT)".
_CLOCK_AFTER = (
    r"(?!\s*\(?(?:[ap]\.?m\b\.?|(?:h|hrs?|horas?|heures?|uhr|gmt|utc|cest|cet|pst|pdt|edt|cdt|bst|jst|kst|brt)\b))"
)
_TOKEN_RE = re.compile(
    r"(?<![\d:.,/])"
    + _TIME.format(p="a")
    + r"(?:(?P<sep>"
    + _RANGE_SEP
    + r")"
    + _TIME.format(p="b")
    + _RANGE_CLOSE
    + r")?(?![\d]|:\d|\.\d)"
    + _CLOCK_AFTER,
    re.IGNORECASE,
)
# A chapter title YouTube made from a range line starts with the range's end: "bis 17:00 Schaumstoff bürsten".
_CHAPTER_END_RE = re.compile(r"^(?:" + _RANGE_SEP + r")?" + _TIME.format(p="b") + _RANGE_CLOSE + _CLOCK_AFTER)
_OPEN, _CLOSE = "([（【", ")]）】"
# Bullets, numbering, emoji and separators that surround labels but are not part of them.
_LEAD_RE = re.compile(r"^(?:[^\w(\[（【]|[(\[]\s*[)\]]|\d{1,2}[.)](?:\s|$)|#\d+\b|\d{1,2}\s*[-–—:](?:\s|$))+")
# Words that point at a time from before it: "the glass tapping at 4:12", "a las 4:12", "bei 4:12".
_POINTERS = (
    r"at|to|from|around|between|a las|a la|desde(?: el| la| las| o)?|a partir del?|de|en el|entre|à partir de|à|vers"
    r"|du|dès|bei|ab|um|von|zwischen|em|às|aos|do|a partir do|da|alle|al|dal|dalle|tra|fra|@"
)
_TRAIL_RE = re.compile(
    rf"(?:[^\w)\]）】!?]|[(\[]\s*[)\]]|(?:^|\s)(?:{_POINTERS})|\s(?:starts?|begins?))+$",
    re.IGNORECASE,
)
_POINTER_RE = re.compile(rf"(?:(?<!\w)(?:{_POINTERS}))\s*[(\[]?\s*$", re.IGNORECASE)
# Japanese and Korean point at a time from after it: "17:00から", "17:00부터".
_POSTPOSITION_RE = re.compile(r"^\s*(?:から|より|あたり|辺り|頃|ごろ|くらい|ぐらい|に|부터|쯤|경|에)")
# A range opened and left without an end, which in prose points at its time: "本日21:00～配信".
_OPEN_RANGE_RE = re.compile(r"^\s*[~〜～]")
# Two times joined by "and" after "between" form a range: "entre 5:30 e 11:00", "zwischen 1:00 und 4:00".
_BETWEEN_RE = re.compile(
    r"(?<!\w)((?:between|entre|zwischen|tra|fra)\s+\d{1,2}(?::\d\d){1,2})\s+(?:and|y|e|et|und)\s+(?=\d)",
    re.IGNORECASE,
)
# Teasers: "skip to 2:15 for the best part", "my favourite is at 17:00", "pulem para 5:00", "一番好き".
_TEASER_RE = re.compile(
    r"(?<!\w)(?:skip(?:ping)?|jump|go to|fast[- ]?forward|fav(?:ou?rite|e)?s?|best (?:part|bit|moment)"
    r"|salta(?:r|d|te|n)?|ve al?|ir al?|adelanta|favorit[oa]s?|preferid[oa]s?|mejor parte|lo mejor"
    r"|pass(?:e|ez) à|allez à|saute[zr]?|préférée?s?|meilleure? (?:partie|moment)"
    r"|spring(?:t|e|en)?|überspring\w*|vorspul\w*|spult|lieblings\w*|beste[rns]? (?:teil|stelle)"
    r"|pul(?:e|em|a|ar)|vá para|vai para|melhor parte"
    r"|vai a|andate a|preferit[oaie]|parte migliore|il meglio"
    # announcements: "Live tonight at 21:00", "Premiere heute um 20:00", "en direct à 21:30"
    r"|live|premiere|première|stream(?:ing)?|twitch|en direct|en vivo|directo|diretta|ao vivo)(?!\w)"
    r"|お気に入り|好き|おすすめ|オススメ|スキップ|飛ば|一番|配信|ライブ|최애|좋아|추천|스킵|건너|넘어가|제일|라이브|생방",
    re.IGNORECASE,
)
# What ends a clause around a time: commas, semicolons, list bars and slashes, brackets, spaced dashes, the end
# of a sentence.
_CLAUSE_SEP_RE = re.compile(r"[,;|/、。()\[\]（）【】!?]|\.\s|\s[-–—]\s")
# Where a clause of running text ends: punctuation, emoji, "and", "then" and their equivalents.
_PROSE_BREAK_RE = re.compile(
    r"[,;.!?、。]|:\s|[\u2600-\u27bf\U0001f300-\U0001faff]|\s(?:and|then|y|luego|et|puis|und|dann|e|depois|poi)\s",
    re.IGNORECASE,
)
# A range to the end of the video: "26:00 to the end", "ab 24:00 bis zum Ende", "dal 22:10 alla fine",
# "17:00부터 끝까지".
_TO_END = (
    r"(?:(?:to|until|till|up to|through) the (?:very )?end(?: of the video)?|bis (?:zum )?(?:schluss|ende)"
    r"|hasta el (?:final|fin)|jusqu[’']?(?:à la fin|au bout)|fino alla fine|fino in fondo"
    r"|até (?:o |ao )?(?:final|fim)|最後まで|終わりまで|끝까지|마지막까지)"
)
# Right after a time only: words that elsewhere mean "finally" ("y al final, de 25:10 a 26:40 ...").
_TO_END_AFTER_TIME = r"(?:to end|al final|à la fin|alla fine)"
_TO_END_RE = re.compile(
    r"(?<![\d:])(\d{1,2}(?::\d\d){1,2})\s*(?:から|부터|[-–—~〜～])?\s*(?:" + _TO_END + "|" + _TO_END_AFTER_TIME + ")",
    re.IGNORECASE,
)
# ... or after the label, closing its line or clause: "da 26:00 → sussurri fino alla fine".
_LABEL_TO_END_RE = re.compile(
    r"(?<![\d:])(\d{1,2}(?::\d\d){1,2})(\s*[→:–—-]?\s*[^\d:,;.!?|/()\[\]]{1,60}?)\s+"
    + _TO_END
    + r"(?=\s*(?:[,;.!?|/)\]]|$))",
    re.IGNORECASE,
)
_END = "99:59:59"  # what a range to the end is written to: past any video (resolve_spans cuts it there)
_END_SECONDS = 99 * 3600 + 59 * 60 + 59
_ENCLOSED_RE = re.compile("[\u2460-\u2473\u2776-\u2793\u3251-\u325f\u32b1-\u32bf]")  # ① ❶ ㉑ ...
_WRAPPED_RE = re.compile(r"^(?:\([^()]*\)|\[[^\[\]]*\]|（[^（）]*）|【[^【】]*】)$")
_BRACKETS = str.maketrans("", "", "[](){}（）【】")
MIN_LIST_LINES = 2
MAX_HEADING_WORDS = 4  # "✨ TAPPING ✨", "🧽 SPUGNA DEL MICROFONO"; a longer line without a time is prose


@dataclass(frozen=True)
class Mark:
    """A labelled time found in text: ``end`` is set only for an explicit range. The video's context (see
    ``label_sources`` and ``normalise_trigger``): ``binaural``, it is recorded on a binaural mic; ``mic``,
    what a mic word with no kind means in it; ``technique``, that of its heading or of another list's
    section this mark splits; ``material``, that of its heading."""

    start: float
    label: str
    end: float | None = None
    binaural: bool = False
    mic: str = "mic"
    technique: str | None = None
    material: str | None = None


@dataclass(frozen=True)
class Span:
    """A resolved segment: where it starts and ends in the recording, its raw label, and its mark's
    context."""

    start: float
    end: float
    label: str
    binaural: bool = False
    mic: str = "mic"
    technique: str | None = None
    material: str | None = None


def _seconds(match: re.Match[str], p: str) -> float:
    if match.group(f"{p}h") is not None:
        minutes = int(match.group(f"{p}h")) * 60 + int(match.group(f"{p}hm"))
    else:
        minutes = int(match.group(f"{p}m"))
    return float(minutes * 60 + int(match.group(f"{p}s")))


def _strip(text: str) -> str:
    """``text`` without the bullets, numbering and separators around it."""
    previous = None
    while previous != text:
        previous = text
        text = _TRAIL_RE.sub("", _LEAD_RE.sub("", text)).strip()
    return text


def clean_label(text: str) -> str:
    """Strip bullets, numbering, brackets and separators around a label; collapse whitespace."""
    text = _strip(" ".join(text.split()))
    if any(text.count(a) != text.count(b) for a, b in zip(_OPEN, _CLOSE, strict=True)):
        text = _strip(text.translate(_BRACKETS))
    return text[1:-1].strip() if _WRAPPED_RE.match(text) else text


def _bracketed(line: str) -> list[tuple[int, int | None]]:
    """The bracketed stretches of ``line``, brackets included; one left open has no end."""
    opened: list[int] = []
    stretches: list[tuple[int, int | None]] = []
    for i, char in enumerate(line):
        if char in _OPEN:
            opened.append(i)
        elif char in _CLOSE and opened:
            stretches.append((opened.pop(), i + 1))
    return stretches + [(i, None) for i in opened]


def _clause(line: str, lo: int, start: int, end: int, hi: int) -> tuple[int, int]:
    """The clause of ``line[lo:hi]`` holding the time at ``line[start:end]``: bounded by separators, else
    starting at a pointing or teasing word ("my fav is at 17:00"), else at the time itself (or ``lo`` for
    a line's first time)."""
    before, after = line[lo:start], line[end:hi]
    seps = list(_CLAUSE_SEP_RE.finditer(before))
    words = [m.start() for m in (_TEASER_RE.search(before), _POINTER_RE.search(before)) if m]
    first = seps[-1].end() if seps else min(words, default=len(before) if lo else 0)
    sep = _CLAUSE_SEP_RE.search(after)
    return lo + first, end + sep.start() if sep else hi


def _remark(
    line: str,
    tokens: Sequence[re.Match[str]],
    i: int,
    listed: bool,
    in_list: bool,
    bracketed: Sequence[tuple[int, int | None]],
) -> tuple[int, int] | None:
    """Where token ``i`` of ``line`` and the remark around it lie, if it is a teaser or a remark, not a mark.

    ``listed``: the line is a list line (``_is_list_line``), so a later time pointed at is a remark;
    ``in_list``: the text holds a list, so on any other line a time pointed at is a remark; ``bracketed``:
    the line's bracketed stretches. A lone time in a bracketed aside on a line holding a range is a remark."""
    token = tokens[i]
    lo = tokens[i - 1].end() if i else 0
    hi = tokens[i + 1].start() if i + 1 < len(tokens) else len(line)
    clause = _clause(line, lo, token.start(), token.end(), hi)
    if i == 0 and listed:  # "2:15 ← the best part" teases; "12:30 brushing (my favourite)" is a label
        return (token.start(), clause[1]) if _TEASER_RE.search(line, token.end(), clause[1]) else None
    # the innermost bracket opened since the time before: "(my favourite bit is at 17:00)"
    opened = [(a, b) for a, b in bracketed if lo <= a < token.start() and (b is None or token.end() < b)]
    bracket = max(opened, default=None)
    start, end = (bracket[0], bracket[1] or hi) if bracket else clause
    besides = (line[start : token.start()] + line[token.end() : end]).translate(_BRACKETS)
    aside = bracket is not None and any(c.isalnum() for c in besides)
    pointed = (
        aside
        or _POINTER_RE.search(line[lo : token.start()]) is not None
        or _POSTPOSITION_RE.match(line[token.end() : hi]) is not None
        or (not listed and _OPEN_RANGE_RE.match(line[token.end() : hi]) is not None)
    )
    # a line writing its sections as ranges makes a lone time in a bracketed aside a remark on one of them
    ranged = aside and token.group("sep") is None and any(t.group("sep") for t in tokens)
    # a range pointed at is a section ("... then from 10:00 to 17:30 it's plastic"), unless it teases
    lone = token.group("sep") is None
    remark = _TEASER_RE.search(line, start, end) or (pointed and lone and (listed or in_list)) or ranged
    return (start, end) if remark else None


def _is_list_line(line: str, tokens: Sequence[re.Match[str]]) -> bool:
    """Whether ``line`` is a list line: it starts with its first time ("12:30 brushing") or range, pointed at
    or not ("de 0:30 a 5:00 - tapping"), or that time stands in brackets right after the label ("Scratching
    the desk (0:44:20) ...")."""
    if not tokens:
        return False
    lead, rest = line[: tokens[0].start()], line[tokens[0].end() :]
    if not clean_label(lead):
        return not _POINTER_RE.search(lead) or tokens[0].group("sep") is not None
    return lead.rstrip().endswith(tuple(_OPEN)) and rest.lstrip().startswith(tuple(_CLOSE))


def _without_remarks(line: str, in_list: bool) -> str:
    """``line`` with its teasers and remarks blanked out, leaving the marks and their labels. ``in_list``:
    the text holds a list, so a time pointed at on a line that is not a list line is a remark too ("Live
    tonight at 21:00", "(iniziata alle 21:30)")."""
    tokens = list(_TOKEN_RE.finditer(line))
    listed = _is_list_line(line, tokens)
    bracketed = _bracketed(line)
    remarks = [remark for i in range(len(tokens)) if (remark := _remark(line, tokens, i, listed, in_list, bracketed))]
    for start, end in remarks:
        line = line[:start] + " " * (end - start) + line[end:]
    return line


def _pointed_labels(pieces: Sequence[str]) -> list[str]:
    """The labels of a line whose every time is pointed at, one per time: the clause pointing at it ("the
    glass tapping at 4:12"), or when that clause is the pointer alone ("then at 8:00 I brush the mic") the
    clause after the time."""
    labels = []
    for before, after in pairwise(pieces):
        head = clean_label(_PROSE_BREAK_RE.split(before)[-1])
        following = (clean_label(clause) for clause in _PROSE_BREAK_RE.split(after))
        labels.append(head or next(filter(None, following), ""))
    return labels


def _between_as_range(line: str) -> str:
    """``line`` with "between A and B" written as the range "between A - B" ("entre 5:30 e 11:00"), and
    "A to the end" and "A label to the end" as ranges to ``_END``."""
    line = _TO_END_RE.sub(rf"\1 - {_END}", _BETWEEN_RE.sub(r"\1 - ", line))
    return _LABEL_TO_END_RE.sub(rf"\1 - {_END}\2", line)


def parse_line(line: str, in_list: bool = False) -> list[Mark]:
    """The marks on one line of text: its teasers ("skip to 2:15") and remarks left out; ``in_list``: the
    line is part of a text holding a list (see ``parse_timestamps``)."""
    line = _without_remarks(_between_as_range(line), in_list)
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
    elif all(_POINTER_RE.search(p) for p in pieces[:-1]):
        labels = _pointed_labels(pieces)
    elif after:
        labels = cleaned[1:]  # each label follows its time
    else:
        labels = cleaned[:-1]  # each label precedes its time
    marks = []
    for token, label in zip(tokens, labels, strict=True):
        start = _seconds(token, "a")
        end = _seconds(token, "b") if token.group("sep") is not None else None
        end = math.inf if end == _END_SECONDS else end  # to the end of the recording
        marks.append(Mark(start, label, end if end is not None and end > start else None))
    return marks


def parse_timestamps(text: str) -> list[Mark]:
    """All marks in ``text``, in the order written (full-width digits read as digits). Never raises.

    A text with ``MIN_LIST_LINES`` list lines holds a list: a time pointed at in the prose around it ("Live
    ce soir à 21:00") is a remark, not a mark."""
    if not isinstance(text, str):
        return []
    # enclosed numbers are list numbers: "①0:40" is "1) 0:40", not the "10:40" NFKC would make of it
    text = _ENCLOSED_RE.sub(lambda m: f"{int(unicodedata.numeric(m.group()))}) ", text)
    lines = [_between_as_range(line) for line in unicodedata.normalize("NFKC", text).splitlines()]
    in_list = sum(_is_list_line(line, list(_TOKEN_RE.finditer(line))) for line in lines) >= MIN_LIST_LINES
    marks: list[Mark] = []
    heading: tuple[str | None, str | None] = (None, None)
    label_line = -1  # the line a lone time took its label from
    for i, line in enumerate(lines):
        found, following = parse_line(line, in_list), lines[i + 1] if i + 1 < len(lines) else ""
        if len(found) == 1 and not found[0].label and not _TOKEN_RE.search(following):
            # a time alone on its line, its label on the next ("2) 0:48" / "   wooden box - tapping")
            found, label_line = [dataclasses.replace(found[0], label=clean_label(following))], i + 1
        if not found and i != label_line:  # a heading, prose or a blank line: a new context
            heading = _heading(line)
        marks += [_under(mark, heading) for mark in found]
    return marks


def _heading(line: str) -> tuple[str | None, str | None]:
    """The technique and material a short line without a time names, for the list lines under it
    ("✨ TAPPING ✨" / "0:40 glass", "🪵 LEGNO" / "0:45 tapping"); a longer line is prose, no heading."""
    label = clean_label(line)
    return label_parts(label) if 0 < len(label.split()) <= MAX_HEADING_WORDS else (None, None)


def _under(mark: Mark, heading: tuple[str | None, str | None]) -> Mark:
    """A list line's mark with what its label leaves out taken from its heading: a label naming only a
    material takes the heading's technique, one naming only a technique the heading's material."""
    technique, material = label_parts(mark.label)
    if technique is None and material is not None and heading[0] is not None:
        return dataclasses.replace(mark, technique=heading[0])
    if technique is not None and material is None and heading[1] is not None:
        return dataclasses.replace(mark, material=heading[1])
    return mark


def _chapter_end(title: str, start: float, end: float | None) -> tuple[str, float | None]:
    """A chapter's title and end: a time opening the title ("bis 17:00 ...", "- 10:30 ...") after the start,
    and not after the chapter's own end, is its range's end, which a gap may leave before the next chapter."""
    match = _CHAPTER_END_RE.match(title)
    if match is None:
        return title, end
    closes = _seconds(match, "b")
    if start < closes and (end is None or closes <= end):
        return title[match.end() :], closes
    return title, end


def chapter_marks(chapters: Iterable[object]) -> list[Mark]:
    """Marks from yt-dlp's ``chapters`` (dicts: start_time, end_time, title; a title opening with a time
    after the start ends the chapter there, ``_chapter_end``); bad entries are skipped."""
    marks = []
    for chapter in chapters if isinstance(chapters, (list, tuple)) else ():
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
        if not math.isfinite(start):  # JSON's NaN and Infinity are no times
            continue
        end = end if end is not None and math.isfinite(end) and end > start else None
        title, end = _chapter_end(str(chapter.get("title") or ""), start, end)
        marks.append(Mark(start, clean_label(title), end))
    return marks


def resolve_spans(marks: Sequence[Mark], duration: float | None) -> list[Span]:
    """Turn marks into spans: sorted by start, duplicates dropped (first label wins), times beyond the
    recording dropped; each ends at its range end, else the next start, else the end of the recording.
    A span with no known end (the last one, or one to the end, when the duration is unknown) is dropped."""
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
        if limit is not None:
            end = min(end, limit) if end is not None else None
        if end is None or math.isinf(end):
            continue
        if end > mark.start:
            spans.append(Span(mark.start, end, mark.label, mark.binaural, mark.mic, mark.technique, mark.material))
    return spans
