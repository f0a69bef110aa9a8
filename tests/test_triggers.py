"""The trigger taxonomy and the free-text normaliser."""

from __future__ import annotations

import pytest

from asmr_zoo.errors import UsageError
from asmr_zoo.triggers import COMMON_TRIGGERS, UNKNOWN, names_binaural, normalise_trigger, validate_trigger_name


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
