"""The trigger taxonomy: ``technique_material`` names, or a technique alone, and a free-text normaliser.

The normaliser maps labels found in the wild ("Tapping on a wine glass", "fluffy mic brushing",
"3Dio ear massage") onto taxonomy names, and returns ``UNKNOWN`` rather than guessing when a label names
no technique, several techniques or several materials, or is an intro, outro or talking.
"""

from __future__ import annotations

import re

from asmr_zoo.errors import UsageError

UNKNOWN = "unknown"

TECHNIQUES = ("tapping", "brushing", "scratching", "whispering", "massaging")
MATERIALS = ("glass", "plastic", "wood", "cork", "metal", "mic", "sponge_mic", "bi_mic")

# The paper's common set.
COMMON_TRIGGERS = (
    "tapping_glass",
    "tapping_plastic",
    "tapping_wood",
    "tapping_metal",
    "brushing_cork",
    "brushing_mic",
    "brushing_sponge_mic",
    "scratching_mic",
    "scratching_sponge_mic",
    "massaging_bi_mic",
    "whispering",
)

# Phrases (whole words, lower case) -> technique. Longer phrases are matched first.
TECHNIQUE_SYNONYMS: dict[str, str] = {
    **{
        w: "tapping"
        for w in (
            "tap",
            "taps",
            "tapped",
            "tapping",
            "tappy",
            "tappity",
            "knock",
            "knocks",
            "knocking",
            "nail tapping",
            "finger tapping",
        )
    },
    **{
        w: "brushing"
        for w in ("brush", "brushes", "brushed", "brushing", "stroking", "stroke", "strokes", "sweeping", "fluffing")
    },
    **{
        w: "scratching"
        for w in (
            "scratch",
            "scratches",
            "scratched",
            "scratching",
            "scratchy",
            "scraping",
            "scrape",
            "scrapes",
            "raking",
        )
    },
    **{
        w: "whispering"
        for w in (
            "whisper",
            "whispers",
            "whispered",
            "whispering",
            "whispery",
            "whisper ramble",
            "inaudible whispering",
        )
    },
    **{
        w: "massaging"
        for w in ("massage", "massages", "massaging", "ear massage", "ear rubbing", "ear rub", "ear cupping", "cupping")
    },
}

# Phrases -> material. "fluffy mic" must win over "mic": longest phrase first, and a matched span is
# consumed so its words are not matched again.
MATERIAL_SYNONYMS: dict[str, str] = {
    **{w: "glass" for w in ("glass", "glasses", "wine glass", "glass jar", "jar", "jars", "mirror", "glassware")},
    **{w: "plastic" for w in ("plastic", "plastic bottle", "plastic case", "acrylic", "lego")},
    **{w: "wood" for w in ("wood", "wooden", "wood block", "bamboo", "table")},
    **{w: "cork" for w in ("cork", "corks", "corkboard", "cork board")},
    **{
        w: "metal"
        for w in ("metal", "metallic", "tin", "tins", "aluminium", "aluminum", "steel", "iron", "copper", "can", "cans")
    },
    **{w: "mic" for w in ("mic", "mics", "microphone", "microphones", "bare mic")},
    **{
        w: "sponge_mic"
        for w in (
            "sponge",
            "sponges",
            "sponge mic",
            "foam",
            "foam cover",
            "mic cover",
            "foam mic",
            "fluffy",
            "fluffy mic",
            "fluffy cover",
            "windscreen",
            "wind screen",
            "deadcat",
            "dead cat",
            "windjammer",
            "fluffy windscreen",
        )
    },
    **{
        w: "bi_mic"
        for w in (
            "3dio",
            "3 dio",
            "binaural",
            "binaural mic",
            "binaural mics",
            "bi mic",
            "dummy head",
            "ear mics",
            "ears mic",
            "kemar",
            "sr3d",
        )
    },
}

# Labels that are not trigger audio at all: kept as unknown, never trained on.
NON_TRIGGER_WORDS = frozenset(
    [
        "intro",
        "introduction",
        "outro",
        "ending",
        "end",
        "talking",
        "talk",
        "chat",
        "chatting",
        "chit",
        "rambling",
        "ramble",
        "update",
        "updates",
        "announcement",
        "sponsor",
        "sponsored",
        "ad",
        "advert",
        "giveaway",
        "q&a",
        "qa",
        "storytime",
        "story",
        "thanks",
        "thank",
        "goodbye",
        "bye",
        "welcome",
        "hello",
        "hi",
        "subscribe",
        "patreon",
        "credits",
        "preview",
        "trailer",
        "bloopers",
        "blooper",
    ]
)

NEGATIONS = frozenset({"no", "without", "zero", "non"})

_NAME_RE = re.compile(r"^[a-z]+(?:_[a-z]+)*$")
_WORD_RE = re.compile(r"[a-z0-9&]+")


def split_trigger(name: str) -> tuple[str, str | None]:
    """A trigger name's ``(technique, material)``: ``("tapping", "glass")``, ``("whispering", None)``."""
    technique, _, material = name.partition("_")
    return technique, material or None


def validate_trigger_name(name: str) -> str:
    """Return ``name`` if it is a taxonomy name (``technique`` or ``technique_material``), else raise."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise UsageError(f"'{name}' is not a valid trigger name: use lower-case technique_material, e.g. tapping_glass")
    technique, material = split_trigger(name)
    if technique not in TECHNIQUES:
        raise UsageError(
            f"trigger '{name}' starts with unknown technique '{technique}'; techniques are: {', '.join(TECHNIQUES)}"
        )
    if material and material not in MATERIALS:
        raise UsageError(f"trigger '{name}' names unknown material '{material}'; materials are: {', '.join(MATERIALS)}")
    return name


def _find(words: list[str], synonyms: dict[str, str]) -> tuple[set[str], list[str]]:
    """Match synonym phrases, longest first; return the matched values and the unmatched words."""
    words = list(words)
    found: set[str] = set()
    for phrase in sorted(synonyms, key=lambda p: -len(p.split())):
        parts = phrase.split()
        n = len(parts)
        i = 0
        while i + n <= len(words):
            if words[i : i + n] == parts:
                found.add(synonyms[phrase])
                words[i : i + n] = ["\0"] * n
                i += n
            else:
                i += 1
    return found, [w for w in words if w != "\0"]


def normalise_trigger(text: str) -> str:
    """Map a free-text label onto a taxonomy name, or return ``UNKNOWN`` rather than guess.

    >>> normalise_trigger("Tapping on a wine glass")
    'tapping_glass'
    >>> normalise_trigger("3Dio ear massage")
    'massaging_bi_mic'
    """
    words = _WORD_RE.findall(text.lower().replace("_", " ").replace("-", " "))
    # "no talking" / "without talking" says what the segment is not: drop the pair.
    words = [
        w
        for i, w in enumerate(words)
        if not (w in NEGATIONS and i + 1 < len(words) and words[i + 1] in NON_TRIGGER_WORDS)
        and not (i > 0 and words[i - 1] in NEGATIONS and w in NON_TRIGGER_WORDS)
    ]
    # Materials first, so that "fluffy mic" is consumed whole before "mic" could match on its own.
    materials, rest = _find(words, MATERIAL_SYNONYMS)
    techniques, rest = _find(rest, TECHNIQUE_SYNONYMS)
    if not words or any(w in NON_TRIGGER_WORDS for w in rest):  # "whisper ramble" was consumed above
        return UNKNOWN
    if len(techniques) != 1:
        return UNKNOWN
    (technique,) = techniques
    if technique == "whispering":
        return technique
    if len(materials) > 1:
        return UNKNOWN
    return f"{technique}_{materials.pop()}" if materials else technique
