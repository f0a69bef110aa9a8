"""The trigger taxonomy and the free-text normaliser."""

from __future__ import annotations

import pytest

from asmr_zoo.errors import UsageError
from asmr_zoo.triggers import (
    COMMON_TRIGGERS,
    UNKNOWN,
    named_mics,
    names_binaural,
    normalise_trigger,
    section_technique,
    validate_trigger_name,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tapping on a wine glass", "tapping_glass"),
        ("glass tapping", "tapping_glass"),
        ("fluffy mic brushing", "brushing_sponge_mic"),
        ("Brushing the foam cover", "brushing_sponge_mic"),
        ("3Dio ear massage", "massaging_bi_mic"),
        ("binaural ear massage", "massaging_bi_mic"),
        ("Ear massage", "massaging"),
        ("scratching the mic", "scratching_mic"),
        ("Whispering (close up)", "whispering"),
        ("wooden tapping", "tapping_wood"),
        ("cork board brushing", "brushing_cork"),
        ("metal tin tapping", "tapping_metal"),
        ("Tapping (no talking)", "tapping"),
        ("whisper ramble", "whispering"),
        ("tapping, then talking", UNKNOWN),
        ("Intro", UNKNOWN),
        ("outro + chit chat", UNKNOWN),
        ("tapping and scratching", UNKNOWN),  # two techniques: don't guess
        ("tapping wood and glass", UNKNOWN),  # two materials: don't guess
        ("mouth sounds", UNKNOWN),
        ("", UNKNOWN),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise_trigger(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the surface wins over what the tool is made of; a tool's material counts when it is the only one
        ("a wooden brush on the mic", "brushing_mic"),
        ("metal comb scratching on the glass jar", "scratching_glass"),
        ("plastic brush over the 3Dio", "brushing_bi_mic"),
        ("tapping on glass with a metal spoon", "tapping_glass"),
        ("wooden brush", "brushing_wood"),
        ("fluffy brush", "brushing"),  # a soft brush, not the foam cover
        # a generic mic with a foam or binaural one is that one; a negated material does not count
        ("foam cover on the mic, brushing", "brushing_sponge_mic"),
        ("mic brushing without the foam cover", "brushing_mic"),
        ("glass and glasses tapping", "tapping_glass"),  # a plural is not a second material
        # mixed sections
        ("plastic crinkles & tapping", UNKNOWN),
        ("tapping combo", UNKNOWN),
        ("whispering + tapping", UNKNOWN),
        ("slow & fast tapping", "tapping"),  # "&" joins no second trigger
        ("tapping, no whispering", "tapping"),
        ("can't sleep? glass tapping", "tapping_glass"),  # "can" alone is not a tin can
    ],
)
def test_rules(text: str, expected: str) -> None:
    assert normalise_trigger(text) == expected


def test_common_set_is_valid() -> None:
    for name in COMMON_TRIGGERS:
        assert validate_trigger_name(name) == name


@pytest.mark.parametrize("bad", ["Tapping_glass", "tapping_lava", "licking_glass", "tapping glass", "", "1:30"])
def test_bad_names_are_rejected_with_the_fix(bad: str) -> None:
    with pytest.raises(UsageError, match=r"trigger|technique|material"):
        validate_trigger_name(bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Binaurale Trigger mit dem 3Dio 👂", True),
        ("Trying out the new Zoom H6 with a pair of binaural ear mics", True),
        ("Triggers sur des micros binauraux", True),
        ("今回はKU100を使った耳元の音です", True),
        ("Blue Yeti tapping for sleep", False),
        ("ear massage roleplay", False),
        ("without the 3Dio today", False),
    ],
)
def test_a_video_text_names_a_binaural_mic(text: str, expected: bool) -> None:
    assert names_binaural(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Recorded with my 3Dio Free Space binaural mic", {"bi_mic"}),  # the mic word is the binaural one
        ("ダミーヘッドマイク（Neumann KU100）で収録", {"bi_mic"}),
        ("Blue Yeti + 3Dio", {"mic", "bi_mic"}),  # a brand is its own kind
        ("KU100 today\nnew mic day!", {"mic", "bi_mic"}),  # a mic word on another line is another mic
        ("Audio-Technica AT2020 with foam covers", {"mic", "sponge_mic"}),
        ("without the 3Dio today", set()),
    ],
)
def test_the_mics_a_video_text_names(text: str, expected: set[str]) -> None:
    assert named_mics(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mic brushing", "brushing_bi_mic"),
        ("tapping on the mic", "tapping_bi_mic"),
        ("brushing", "brushing"),  # no mic named: the context gives none
        ("foam cover on the mic, brushing", "brushing_sponge_mic"),  # the label's own kind wins
        ("Blue Yeti brushing", "brushing_mic"),  # a brand names its own kind
    ],
)
def test_a_mic_word_is_the_videos_one_mic(text: str, expected: str) -> None:
    assert normalise_trigger(text, mic="bi_mic") == expected
    assert normalise_trigger("mic brushing") == "brushing_mic"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tapping vari", "tapping"),  # mixed, one technique
        ("glass and wood tapping", "tapping"),
        ("Brushing", "brushing"),
        ("tapping + scratching", None),
        ("tapping, then talking", None),
        ("crinkles & tapping", None),
        ("whispering", None),  # takes no material
        ("intro", None),
    ],
)
def test_the_technique_of_a_section(text: str, expected: str | None) -> None:
    assert section_technique(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("legno", "tapping_wood"),
        ("on glass", "tapping_glass"),
        ("spazzola sulla spugna", "brushing_sponge_mic"),  # its own technique wins
        ("più lento", UNKNOWN),  # no material: nothing says it is still tapping
        ("glass and wood", UNKNOWN),
        ("mouth sounds", UNKNOWN),
    ],
)
def test_a_material_alone_takes_the_technique_of_the_section_it_splits(text: str, expected: str) -> None:
    assert normalise_trigger(text, technique="tapping") == expected
    assert normalise_trigger("legno") == UNKNOWN


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("there's some ear to ear whispering until the end", "whispering"),
        ("Flüstern am Ende", "whispering"),
        ("tapping till the end", "tapping"),
        ("the end", UNKNOWN),
        ("Ende", UNKNOWN),
        ("wooden spoon tapping on a wooden cutting board", "tapping_wood"),  # a board, not cutting
        ("cutting paper", UNKNOWN),
    ],
)
def test_phrases_that_do_not_mean_their_words(text: str, expected: str) -> None:
    assert normalise_trigger(text) == expected
