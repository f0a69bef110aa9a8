"""The timestamp grammar on realistic ASMR descriptions and comments, and property tests: it never raises."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asmr_zoo.triggers import normalise_trigger
from asmr_zoo_sources.timestamps import (
    Mark,
    chapter_marks,
    clean_label,
    parse_line,
    parse_timestamps,
    resolve_spans,
)

DURATION = 1800.0  # a 30-minute video

# (text as a channel writes it, expected spans as (start, end, trigger) for a 30-minute video)
REALISTIC: list[tuple[str, list[tuple[float, float, str]]]] = [
    (  # the classic list under "Timestamps:"
        "Hi everyone! Tonight: triggers for sleep 💤\n\nTimestamps:\n0:00 Intro\n1:12 Tapping on glass\n"
        "5:40 Wooden comb tapping\n9:03 Mic brushing\n14:30 Outro",
        [
            (0, 72, "unknown"),
            (72, 340, "tapping_glass"),
            (340, 543, "tapping_wood"),
            (543, 870, "brushing_mic"),
            (870, 1800, "unknown"),
        ],
    ),
    (  # bullets and hearts
        "• 00:00 - intro ♡\n• 02:15 - glass tapping ✨\n• 07:50 - fluffy mic scratching\n• 12:05 - ear massage",
        [
            (0, 135, "unknown"),
            (135, 470, "tapping_glass"),
            (470, 725, "scratching_sponge_mic"),
            (725, 1800, "massaging"),
        ],
    ),
    (  # square brackets
        "[00:00] Welcome\n[03:30] Tapping on plastic\n[08:45] Cork board brushing",
        [(0, 210, "unknown"), (210, 525, "tapping_plastic"), (525, 1800, "brushing_cork")],
    ),
    (  # label before the time, in parentheses
        "Glass tapping (2:30)\nMic brushing (6:10)\nWhispering (11:00)",
        [(150, 370, "tapping_glass"), (370, 660, "brushing_mic"), (660, 1800, "whispering")],
    ),
    (  # explicit ranges with a hyphen
        "1:20-3:05 fluffy mic scratching\n3:05-6:00 tapping on tins\n6:30-9:00 nail tapping on mirror",
        [(80, 185, "scratching_sponge_mic"), (185, 360, "tapping_metal"), (390, 540, "tapping_glass")],
    ),
    (  # ranges with "to"
        "12:00 to 15:30 ear massage (3Dio)\n15:30 to 20:00 brushing the windscreen",
        [(720, 930, "massaging_bi_mic"), (930, 1200, "brushing_sponge_mic")],
    ),
    (  # numbered, label then time
        "1. Intro - 0:00\n2. Tapping on plastic - 1:45\n3. Scratching the bare mic - 6:20",
        [(0, 105, "unknown"), (105, 380, "tapping_plastic"), (380, 1800, "scratching_mic")],
    ),
    (  # several on one line, label before each
        "Tapping on wood 0:30 | Brushing cork coasters 4:10 | Whispering 8:00",
        [(30, 250, "tapping_wood"), (250, 480, "brushing_cork"), (480, 1800, "whispering")],
    ),
    (  # several on one line, label after each
        "0:00 intro 2:00 glass jar tapping 6:00 sponge brushing 10:00 outro",
        [
            (0, 120, "unknown"),
            (120, 360, "tapping_glass"),
            (360, 600, "brushing_sponge_mic"),
            (600, 1800, "unknown"),
        ],
    ),
    (  # h:mm:ss on a long video: beyond 30 minutes is dropped, the span before it is cut at the end
        "00:00:00 Intro\n00:10:00 Binaural ear cupping\n00:25:00 Tapping on a metal tin\n1:02:10 Sleep talk",
        [(0, 600, "unknown"), (600, 1500, "massaging_bi_mic"), (1500, 1800, "tapping_metal")],
    ),
    (  # emoji everywhere
        "🌙 0:00 welcome\n✨ 3:21 foam cover scratching 🎤\n🫧 9:10 cork tapping 🫧",
        [(0, 201, "unknown"), (201, 550, "scratching_sponge_mic"), (550, 1800, "tapping_cork")],
    ),
    (  # a viewer's comment
        "3:33 when the glass tapping starts 😴\n7:45 mic brushing\n10:02 that whispering omg",
        [(213, 465, "tapping_glass"), (465, 602, "brushing_mic"), (602, 1800, "whispering")],
    ),
    (  # description prose, links and a clock time around the list
        "Thank you for watching 💕 Follow me on Instagram @asmr_example\nLive every Friday at 10:30 pm!\n"
        "Watch the last video: https://youtu.be/abcdefghijk?t=120\n\n"
        "2:00 plastic tapping\n5:00 microphone brushing",
        [(120, 300, "tapping_plastic"), (300, 1800, "brushing_mic")],
    ),
    (  # lines out of order
        "10:00 mic scratching with nails\n2:00 tapping on the wooden table\n6:00 metal can tapping",
        [(120, 360, "tapping_wood"), (360, 600, "tapping_metal"), (600, 1800, "scratching_mic")],
    ),
    (  # a duplicate time: the first label wins
        "1:00 glass tapping\n1:00 tapping glass again\n4:00 mic brushing",
        [(60, 240, "tapping_glass"), (240, 1800, "brushing_mic")],
    ),
    (  # a "Triggers:" header and en dashes
        "Triggers:\n– 0:45 – lid tapping (plastic)\n– 4:05 – 3dio massage\n– 9:30 – inaudible whispering",
        [(45, 245, "tapping_plastic"), (245, 570, "massaging_bi_mic"), (570, 1800, "whispering")],
    ),
    (  # labels the taxonomy cannot place stay unknown
        "0:00 オープニング\n1:30 スライム\n5:00 Q&A",
        [(0, 90, "unknown"), (90, 300, "unknown"), (300, 1800, "unknown")],
    ),
    (  # "@" before the time and a colon after the label
        "Glass tapping: 4:20\nMic brushing @ 9:40",
        [(260, 580, "tapping_glass"), (580, 1800, "brushing_mic")],
    ),
    (  # tabs between time and label
        "0:30\tTapping on wood\n3:00\tBrushing the fluffy mic",
        [(30, 180, "tapping_wood"), (180, 1800, "brushing_sponge_mic")],
    ),
    (  # Windows line endings
        "0:10 plastic tapping\r\n2:10 cork tapping\r\n",
        [(10, 130, "tapping_plastic"), (130, 1800, "tapping_cork")],
    ),
    (  # two ranges on one line
        "1:00-2:00 tapping on glass, 3:00-4:00 microphone brushing",
        [(60, 120, "tapping_glass"), (180, 240, "brushing_mic")],
    ),
    (  # a range with spaces and an en dash, label before
        "Fluffy mic brushing with makeup brush [4:05 – 6:10]\nEar massage 6:10",
        [(245, 370, "brushing_sponge_mic"), (370, 1800, "massaging")],
    ),
    (  # a reversed range is read as a plain time
        "5:00-3:00 tapping on glass\n8:00 mic brushing",
        [(300, 480, "tapping_glass"), (480, 1800, "brushing_mic")],
    ),
    (  # aspect ratios, versions and dates are not times
        "Filmed in 16:9 with a Zoom H6 v1.2, uploaded 12.03.2024\n0:00 Whispered trigger words",
        [(0, 1800, "whispering")],
    ),
    (  # numbering with ")" and hash numbers
        "1) 0:00 intro\n2) 1:00 glass tapping\n#3 5:00 sponge brushing",
        [(0, 60, "unknown"), (60, 300, "tapping_glass"), (300, 1800, "brushing_sponge_mic")],
    ),
    (  # minutes beyond 59 without hours
        "75:30 outro\n0:00 tapping on glass",
        [(0, 1800, "tapping_glass")],
    ),
    (  # "no talking" is not talking
        "0:00 Tapping (no talking)\n4:00 Brushing cork coasters",
        [(0, 240, "tapping"), (240, 1800, "brushing_cork")],
    ),
    (  # shell metacharacters are just text
        "0:05 tapping on glass; rm -rf ~ && echo $(whoami) `id` > /tmp/x\n3:00 mic brushing | tee",
        [(5, 180, "tapping_glass"), (180, 1800, "brushing_mic")],
    ),
    (  # the label around the time
        "Tapping (1:30) on a wine glass\nBrushing (5:00) the microphone",
        [(90, 300, "tapping_glass"), (300, 1800, "brushing_mic")],
    ),
    (  # a last timestamp after the end of the video is dropped
        "0:00 glass tapping\n29:00 mic brushing\n45:00 bloopers",
        [(0, 1740, "tapping_glass"), (1740, 1800, "brushing_mic")],
    ),
    (  # a comment with times in running text
        "omg the tapping on glass at 4:12 gave me tingles, and the 3dio massage at 17:40 put me to sleep",
        [(252, 1060, "tapping_glass"), (1060, 1800, "massaging_bi_mic")],
    ),
    (  # leading zeros in hours
        "00:01:30 massage on 3dio\n00:12:00 scratching the bare mic",
        [(90, 720, "massaging_bi_mic"), (720, 1800, "scratching_mic")],
    ),
]


def spans_of(text: str, duration: float = DURATION) -> list[tuple[float, float, str]]:
    return [(s.start, s.end, normalise_trigger(s.label)) for s in resolve_spans(parse_timestamps(text), duration)]


def test_there_are_at_least_thirty_realistic_texts() -> None:
    assert len(REALISTIC) >= 30


@pytest.mark.parametrize(("text", "expected"), REALISTIC, ids=[f"text{i}" for i in range(len(REALISTIC))])
def test_realistic_texts(text: str, expected: list[tuple[float, float, str]]) -> None:
    assert spans_of(text) == [(float(a), float(b), t) for a, b, t in expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Timestamps in the comments!", []),
        ("", []),
        ("posted at 10:30 pm, 11:15am", []),
        ("version 1.2:30 and 12:30:45:12", []),
        ("see 1:20:", [Mark(80.0, "see")]),
    ],
)
def test_lines_without_timestamps(text: str, expected: list[Mark]) -> None:
    assert parse_timestamps(text) == expected


# (line, its marks as (start, label, end)): teasers take no slot, a time in a remark after a label is
# not a mark, clock times are not times, ranges in every language.
TEASERS_REMARKS_CLOCKS: list[tuple[str, list[tuple[float, str, float | None]]]] = [
    ("skip to 2:15 for the best part 😉", []),
    ("my favourite is at 17:00", []),
    ("jump to 5:00", []),
    ("17:00 👈 my favourite", []),
    ("the tapping at 12:00 is my favourite part", []),
    ("12:30 brushing the mic (my favourite bit is at 17:00)", [(750, "brushing the mic", None)]),
    ("5:00 tapping on glass - skip to 7:00 if you hate the talking", [(300, "tapping on glass", None)]),
    ("12:30 brushing the mic, my fav is at 17:00", [(750, "brushing the mic", None)]),
    ("17:00 brushing the mic (my favourite!)", [(1020, "brushing the mic (my favourite!)", None)]),
    ("salta al 3:20 si solo quieres los triggers", []),
    ("3:20 cepillado del micrófono (mi parte favorita es a las 8:00)", [(200, "cepillado del micrófono", None)]),
    ("passez à 4:10 pour les déclencheurs", []),
    ("4:10 tapping sur du bois (mon moment préféré est à 7:45)", [(250, "tapping sur du bois", None)]),
    ("springt zu 3:00, wenn ihr nur die Trigger wollt", []),
    ("mein Lieblingsteil ist bei 14:00", []),
    ("3:00 Mikrofon bürsten (ab 7:30 wird es richtig gut)", [(180, "Mikrofon bürsten", None)]),
    ("pule para 2:40 se quiser ir direto aos gatilhos", []),
    ("2:40 tapping em vidro (minha parte favorita é em 6:00)", [(160, "tapping em vidro", None)]),
    ("saltate a 3:10 se volete solo i trigger", []),
    ("3:10 spazzolare il microfono (la mia parte preferita è alle 7:20)", [(190, "spazzolare il microfono", None)]),
    ("音だけ聴きたい方は3:00へスキップしてください", []),
    ("3:00 マイクのブラッシング（7:30あたりが一番好き）", [(180, "マイクのブラッシング", None)]),
    ("소리만 듣고 싶으신 분들은 3:00으로 건너뛰세요", []),
    ("3:00 마이크 브러싱 (7:30부터 제일 좋아요)", [(180, "마이크 브러싱", None)]),
    ("Directo a las 22:00 h", []),
    ("Live jeden Freitag um 20:00 Uhr", []),
    ("Premiere 21:00 CET", []),
    ("de 0:30 a 5:00 - tapping en uñas", [(30, "tapping en uñas", 300)]),
    ("de 0:00 à 6:00 — tapping sur les ongles", [(0, "tapping sur les ongles", 360)]),
    ("0:00:30 bis 0:06:00 Tapping", [(30, "Tapping", 360)]),
    ("00:30 até 06:00 - tapping nas unhas", [(30, "tapping nas unhas", 360)]),
    ("dalle 0:30 alle 4:00 - tapping sulle unghie", [(30, "tapping sulle unghie", 240)]),
    ("0:30〜6:00 爪でタッピング", [(30, "爪でタッピング", 360)]),
    ("１：２０ 木のタッピング", [(80, "木のタッピング", None)]),
    ("【1:30】タッピング（ガラス）", [(90, "タッピング(ガラス)", None)]),
]


@pytest.mark.parametrize(
    ("line", "expected"), TEASERS_REMARKS_CLOCKS, ids=[f"line{i}" for i in range(len(TEASERS_REMARKS_CLOCKS))]
)
def test_teasers_remarks_and_clock_times(line: str, expected: list[tuple[float, str, float | None]]) -> None:
    assert [(m.start, m.label, m.end) for m in parse_timestamps(line)] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Hi 💜 The tapping on glass starts at 1:00, then at 8:00 I brush the mic and at 15:00 I whisper.",
            [(60, "The tapping on glass"), (480, "I brush the mic"), (900, "I whisper")],
        ),
        ("at 4:12 the tapping starts, at 9:00 brushing", [(252, "the tapping"), (540, "brushing")]),
        (
            "el tapping en vidrio a las 2:00 y el cepillado a las 9:00",
            [(120, "el tapping en vidrio"), (540, "el cepillado")],
        ),
    ],
)
def test_prose_pointing_at_its_times_from_either_side(text: str, expected: list[tuple[float, str]]) -> None:
    assert [(m.start, m.label) for m in parse_timestamps(text)] == expected


def test_a_teaser_and_a_list_line_sharing_a_time_keep_the_list_label() -> None:
    text = "skip to 2:15 for the tingles\n0:00 intro\n2:15 glass tapping\nmy favourite is at 9:00\n9:00 mic brushing"
    assert [(m.start, m.label) for m in parse_timestamps(text)] == [
        (0, "intro"),
        (135, "glass tapping"),
        (540, "mic brushing"),
    ]


def test_labels_are_cleaned_of_bullets_numbering_and_brackets() -> None:
    assert clean_label("  • 3. (mic brushing) ✨ ") == "mic brushing"
    assert clean_label("Tapping (no talking)") == "Tapping (no talking)"
    assert clean_label("#4 - Q&A -") == "Q&A"
    assert parse_line("02. Wooden comb tapping — 4:15") == [Mark(255.0, "Wooden comb tapping")]


def test_chapters_become_marks_with_their_ends() -> None:
    chapters = [
        {"start_time": 0, "end_time": 60, "title": "Intro"},
        {"start_time": 60, "end_time": 300.5, "title": "Tapping on glass"},
        {"start_time": "bad", "title": "broken"},
        "not a chapter",
    ]
    assert chapter_marks(chapters) == [Mark(0.0, "Intro", 60.0), Mark(60.0, "Tapping on glass", 300.5)]
    assert [(s.start, s.end) for s in resolve_spans(chapter_marks(chapters), None)] == [(0, 60), (60, 300.5)]


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("bis 17:00 Schaumstoff bürsten", Mark(800.0, "Schaumstoff bürsten", 1020.0)),  # the range's end: a gap
        ("- 16:30 brushing", Mark(800.0, "brushing", 990.0)),
        ("até 14:50 - escovando", Mark(800.0, "escovando", 890.0)),
        ("18:00 whispering", Mark(800.0, "whispering", 1080.0)),  # the chapter's own end
        ("19:00 whispering", Mark(800.0, "19:00 whispering", 1080.0)),  # after the chapter: not its end
        ("12:00 whispering", Mark(800.0, "12:00 whispering", 1080.0)),  # before the start
        ("22:00 Uhr live", Mark(800.0, "22:00 Uhr live", 1080.0)),  # a clock time
    ],
)
def test_a_chapter_title_opening_with_a_time_ends_there(title: str, expected: Mark) -> None:
    assert chapter_marks([{"start_time": 800, "end_time": 1080, "title": title}]) == [expected]


def test_unknown_duration_drops_only_an_open_last_span() -> None:
    spans = resolve_spans(parse_timestamps("0:00 a\n1:00 b\n2:00-2:30 c\n5:00 d"), None)
    assert [(s.start, s.end, s.label) for s in spans] == [(0, 60, "a"), (60, 120, "b"), (120, 150, "c")]


def test_spans_keep_their_marks_binaural_context() -> None:
    marks = [Mark(0, "ear massage", binaural=True), Mark(60, "brushing", binaural=True)]
    spans = resolve_spans(marks, 120)
    assert [(s.label, s.binaural) for s in spans] == [("ear massage", True), ("brushing", True)]
    assert not any(s.binaural for s in resolve_spans(parse_timestamps("0:00 ear massage\n1:00 brushing"), 120))


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parser_never_raises_on_any_text(text: str) -> None:
    marks = parse_timestamps(text)
    for span in resolve_spans(marks, 600.0):
        assert 0 <= span.start < span.end <= 600.0
        normalise_trigger(span.label)


TIMEY = st.text(alphabet="0123456789:-–[]() \n•.toh\tabcglass", max_size=200)


@settings(max_examples=300, deadline=None)
@given(TIMEY, st.one_of(st.none(), st.floats(min_value=0, max_value=1e6, allow_nan=False)))
def test_parser_never_raises_on_timestamp_like_text(text: str, duration: float | None) -> None:
    spans = resolve_spans(parse_timestamps(text), duration)
    starts = [s.start for s in spans]
    assert starts == sorted(set(starts))
    for span in spans:
        assert span.end > span.start


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5999), st.sampled_from(["tapping on glass", "intro", "mic brushing"])),
        max_size=20,
    )
)
def test_written_timestamps_round_trip(entries: list[tuple[int, str]]) -> None:
    text = "\n".join(f"{s // 60}:{s % 60:02d} {label}" for s, label in entries)
    assert [(m.start, m.label) for m in parse_timestamps(text)] == [(float(s), label) for s, label in entries]


def test_a_label_first_line_with_its_time_in_brackets_is_a_list_line() -> None:
    line = "Scratching the wooden desk (0:44:20) — my personal fave, esp. around 0:50:00"
    assert [m.start for m in parse_line(line)] == [2660.0], "the later time pointed at is a remark"
    assert [m.start for m in parse_line("Scratching the wooden desk, then around 0:50:00 brushing")] == [3000.0]


@pytest.mark.parametrize(
    "prose", ["Live ce soir à 21:00 sur Twitch, venez ! 💜", "Replay della live di ieri (iniziata alle 21:30) 💜"]
)
def test_a_time_pointed_at_in_the_prose_around_a_list_is_a_remark(prose: str) -> None:
    text = f"{prose}\n\n2:20 Tapotements sur du verre\n15:30 Brossage de la bonnette\n28:00 Massage du micro"
    assert [m.start for m in parse_timestamps(text)] == [140.0, 930.0, 1680.0]


def test_a_range_pointed_at_from_the_start_of_a_line_is_a_list_line() -> None:
    text = "de 0:30 a 5:00 - tapping en uñas\nde 5:00 a 12:00 - rascando el micro\n12:00 susurros"
    assert [(m.start, m.end) for m in parse_timestamps(text)] == [(30.0, 300.0), (300.0, 720.0), (720.0, None)]


def test_spans_keep_their_marks_mic_and_technique() -> None:
    marks = [Mark(0, "mic brushing", mic="bi_mic"), Mark(60, "legno", technique="tapping")]
    spans = resolve_spans(marks, 120)
    assert [(s.mic, s.technique) for s in spans] == [("bi_mic", None), ("mic", "tapping")]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("desde el 2:00 hasta el 7:00 cepillado del micro", (120.0, 420.0)),
        ("do 3:00 ao 9:30 escovação do microfone", (180.0, 570.0)),
        ("2:00から7:00まで マイクのブラッシング", (120.0, 420.0)),
        ("2:00부터 7:00까지 마이크 브러싱", (120.0, 420.0)),
        ("entre 2:00 e 7:00 escovação do microfone", (120.0, 420.0)),
        ("zwischen 2:00 und 7:00 Bürsten am Mikro", (120.0, 420.0)),
    ],
)
def test_ranges_written_with_from_until_and_between_words(line: str, expected: tuple[float, float]) -> None:
    (mark,) = parse_line(line)
    assert (mark.start, mark.end) == expected
    assert normalise_trigger(mark.label) == "brushing_mic", mark.label


def test_prose_ranges_take_the_clause_pointing_at_them_else_the_next_one_saying_something() -> None:
    text = (
        "Abro con tapping en vasos de vidrio de 1:00 a 4:00, luego de 4:00 a 9:00 cepillado del micro. "
        "Y al final, de 9:00 a 12:00, susurros."
    )
    labels = [(m.start, m.end, normalise_trigger(m.label)) for m in parse_timestamps(text)]
    assert labels == [(60.0, 240.0, "tapping_glass"), (240.0, 540.0, "brushing_mic"), (540.0, 720.0, "whispering")]


def test_a_pointer_from_a_phrase_points_at_its_time() -> None:
    text = "On commence par du tapping sur du verre de 0:30 à 4:00. À partir de 4:00 je vous chuchote une histoire"
    assert [normalise_trigger(m.label) for m in parse_timestamps(text)] == ["tapping_glass", "whispering"]


def test_a_lone_time_in_a_bracketed_aside_among_ranges_is_a_remark() -> None:
    line = "tapping em vidro do 1:00 ao 6:00 (lá para os 3:10 espirro, desculpem), depois do 6:00 ao 9:00 sussurros"
    assert [(m.start, m.end) for m in parse_line(line)] == [(60.0, 360.0), (360.0, 540.0)]
    assert len(parse_line("tapping em vidro (lá para os 3:10 espirro) e depois 6:00 sussurros")) == 2


@pytest.mark.parametrize("prose", ["本日20:00～生配信やります!", "오늘 밤 9:30에 라이브 있어요!"])
def test_an_open_range_or_a_korean_at_in_the_prose_around_a_list_is_a_remark(prose: str) -> None:
    text = f"{prose}\n1:00 ガラスのタッピング\n6:00 マイクのブラッシング"
    assert [m.start for m in parse_timestamps(text)] == [60.0, 360.0]
    listed = "1:00～ ガラスのタッピング\n6:00～ マイクのブラッシング"
    assert [m.start for m in parse_timestamps(listed)] == [60.0, 360.0], "a list line's own open range is kept"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Then 12:00 to the end: slow whispers", [(720.0, 1000.0, "whispering")]),
        ("ab 5:00 bis zum Ende flüstere ich", [(300.0, 1000.0, "whispering")]),
        ("de 5:00 hasta el final, susurros", [(300.0, 1000.0, "whispering")]),
        ("de 5:00 jusqu'à la fin, chuchotements", [(300.0, 1000.0, "whispering")]),
        ("dal 5:00 fino alla fine sussurri", [(300.0, 1000.0, "whispering")]),
        ("de 5:00 até o final é só sussurro", [(300.0, 1000.0, "whispering")]),
        ("5:00から最後まで囁き", [(300.0, 1000.0, "whispering")]),
        ("5:00부터 끝까지 속삭임", [(300.0, 1000.0, "whispering")]),
        ("da 5:00 → sussurri fino alla fine", [(300.0, 1000.0, "whispering")]),  # after the label
        ("dal 5:00 alla fine → solo sussurri", [(300.0, 1000.0, "whispering")]),  # right after the time only
        ("5:00 to end: whispers", [(300.0, 1000.0, "whispering")]),
        ("5:00 whispering until the end.", [(300.0, 1000.0, "whispering")]),
    ],
)
def test_a_range_to_the_end_runs_to_the_end_of_the_video(text, expected) -> None:
    assert spans_of(text, 1000.0) == expected
    assert spans_of(text, None) == []  # no duration: no known end, nothing cut


def test_a_time_alone_on_its_line_takes_the_next_line_as_its_label() -> None:
    text = "1) 0:00\n   intro\n2) 1:00\n   tapping on glass\n3) 2:30\n   brushing the mic\n"
    assert spans_of(text, 200.0) == [
        (0.0, 60.0, "unknown"),
        (60.0, 150.0, "tapping_glass"),
        (150.0, 200.0, "brushing_mic"),
    ]


def test_enclosed_numbers_number_the_list_and_are_not_digits_of_the_time() -> None:
    text = "①0:40\nガラスをタッピング\n②6:15\nマイクをブラッシング"
    assert [(m.start, normalise_trigger(m.label)) for m in parse_timestamps(text)] == [
        (40.0, "tapping_glass"),
        (375.0, "brushing_mic"),
    ]


def test_prose_ranges_after_a_list_like_first_range_are_sections_and_announcements_are_not() -> None:
    text = (
        "Tonight: from 1:00 to 4:00 I tap on glass, then from 4:00 to 7:00 I brush the mic, "
        "and from 7:30 to 9:00 wood tapping. Live on Sunday at 8:00!"
    )
    assert spans_of(text, 600.0) == [
        (60.0, 240.0, "tapping_glass"),
        (240.0, 420.0, "brushing_mic"),
        (450.0, 540.0, "tapping_wood"),
    ]
    assert spans_of("my favourite part is from 3:00 to 5:00", 600.0) == []  # a teasing range stays a remark
    assert parse_timestamps("Live ce soir à 21:00 sur Twitch, venez !") == []  # list or not
