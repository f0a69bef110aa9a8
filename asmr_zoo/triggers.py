"""The trigger taxonomy: ``technique_material`` names, or a technique alone, and a free-text normaliser.

``normalise_trigger`` maps labels found in the wild (chapters, descriptions, comments, folder names:
"Tapping on a wine glass", "golpecitos en vidrio", "Klopfen auf Holz", "マイクのブラッシング") onto taxonomy
names, and returns ``UNKNOWN`` rather than guessing. The word lists, in English, Spanish, French, German,
Portuguese, Italian, Japanese and Korean, with microphone brands and models, are in
``asmr_zoo.trigger_lexicon``. A label is read in six steps:

1. Folding: NFKC, case folded, accents dropped ("Cepíllado" is "cepillado"); a German umlaut also matches
   as "ue" ("Flüstern", "Flustern", "Fluestern"); Korean ㅐ and ㅔ, often swapped, are one ("스크레칭").
2. Words: Latin-script text splits into words; a Japanese or Korean run, written without spaces between
   words, splits into the lexicon's words found in it, longest first ("マイクブラッシング": マイク, ブラッシング).
3. A Latin word that is not in the lexicon is corrected once: a plural to its singular ("woods"), a
   German-looking verb to its English technique ("tapen", "scratchen"), a German compound into two lexicon
   words ("Holzklopfen") or into a material and the thing made of it ("Holzbrettchen"), a five-letter
   material less its final vowel to it ("vetr"), else a typo of it or of its singular to the one vocabulary
   meaning within a small edit distance (``_fuzzy``; "bonettes", "bidrio"). A Korean word the lexicon lacks,
   of three syllables or more, one letter (jamo) from a lexicon word of one meaning is that word ("속사임").
   Nothing else is corrected.
4. Phrases match longest first, materials before the rest, so "fluffy mic" is one material and "masaje de
   orejas de silicona" keeps its silicone ears.
5. Negations drop the word they negate ("tapping, no talking", "golpecitos sin susurros", "トークなし").
6. The decision. Unknown: no technique, talking or an intro ("tapping, then talking", "charla"), a mix
   word ("layered", "combo", "mezcla", "ミックス"), two techniques, or one of ours with a trigger outside the
   taxonomy ("crinkles & tapping", "耳かき"); speech beside a whispering word, function words aside, is
   whispered, not talk ("whispered ramble", "囁き雑談", "囁き声でおしゃべり"); "at the end", "am Ende" are
   times, not an outro. So a section is mixed when it names two triggers, and one
   dominates only when the others are negated; "&" and "+" are conjunctions like "and" ("slow & fast
   tapping" is tapping). Whispering is a technique alone; for the others ``_material`` chooses the
   material: the surface wins over what a tool is made of ("a wooden brush on the mic" is brushing_mic),
   brand and model names name their kind of mic ("Blue Yeti", "3Dio FS Pro", "Rycote"), a thing is its
   usual material unless one is named for it ("jar" is glass, "a plastic jar" plastic), the ears are the
   binaural mic's in a video recorded on one (``binaural``), a mic word with no kind is the video's one
   mic (``mic``), and two materials left are unknown. A label naming a material and no technique takes the
   technique of the section it splits (``technique``): "legno" under "tapping vari" is tapping_wood.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import NamedTuple

from asmr_zoo import trigger_lexicon as lex
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


def _flat(by_language: dict[str, tuple[str, ...]]) -> list[str]:
    """The phrases of all languages."""
    return [phrase for phrases in by_language.values() for phrase in phrases]


# Phrase (as written in the lexicon) -> technique / material; listed by `asmr-zoo triggers`.
TECHNIQUE_SYNONYMS: dict[str, str] = {
    **{p: t for t, by_language in lex.TECHNIQUE_WORDS.items() for p in _flat(by_language)},
    **dict.fromkeys(_flat(lex.BRUSHES), "brushing"),
}
MATERIAL_SYNONYMS: dict[str, str] = {
    **{p: m for m, by_language in lex.MATERIAL_WORDS.items() for p in _flat(by_language)},
    **{p: m for m, by_language in lex.OBJECT_WORDS.items() for p in _flat(by_language)},
    **{p: m for m, models in lex.MIC_MODELS.items() for p in models},
}

_NAME_RE = re.compile(r"^[a-z]+(?:_[a-z]+)*$")
_ACCENT_RE = re.compile("[\u0300-\u036f]")  # combining accents; Japanese (han)dakuten are not among them
_LETTERS = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ı": "i"})  # not decomposable
_HANGUL, _VOWELS, _FINALS = 0xAC00, 21, 28
_MERGED_VOWELS = {1: 5, 3: 7}  # Korean ㅐ as ㅔ, ㅒ as ㅖ: spoken alike, often swapped ("스크레칭")
_CJK = "\u3005\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u1100-\u11ff\u3130-\u318f\uac00-\ud7af"
_TOKEN_RE = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+")
_CJK_RE = re.compile(f"[{_CJK}]")


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


def _merge_vowels(char: str) -> str:
    """A Hangul syllable with ㅐ read as ㅔ and ㅒ as ㅖ; any other character as it is."""
    code = ord(char) - _HANGUL
    if not 0 <= code < 19 * _VOWELS * _FINALS:
        return char
    vowel = code // _FINALS % _VOWELS
    return chr(ord(char) + (_MERGED_VOWELS.get(vowel, vowel) - vowel) * _FINALS)


def fold(text: str) -> str:
    """Text as the normaliser compares it: NFKC, case folded, accents dropped ("Røde", "Cepíllado"), Korean
    ㅐ and ㅔ merged ("스크래칭", "스크레칭")."""
    text = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text).casefold().translate(_LETTERS))
    text = unicodedata.normalize("NFC", _ACCENT_RE.sub("", text))
    return "".join(map(_merge_vowels, text)) if _CJK_RE.search(text) else text


class _Word(NamedTuple):
    """A word or phrase of a label as the normaliser reads it."""

    kind: str  # technique, brush, tool, material, ear, other, talk, speech, mix, function or plain
    value: str = ""  # the technique or material it names
    roles: frozenset[str] = frozenset()  # a function word's roles (see trigger_lexicon.FUNCTION_WORDS)
    thing: bool = False  # a material word naming a thing made of it ("jar"), not the material ("glass")
    brand: bool = False  # a mic named by brand or model ("Blue Yeti", "3Dio"), not by a word ("mic")
    languages: frozenset[str] = frozenset()  # the languages whose lexicon spells a technique or material so


_PLAIN = _Word("plain")
_MICS = frozenset({"mic", "sponge_mic", "bi_mic"})
_TOOLS = frozenset({"tool", "brush"})
_SKIP = 2  # words allowed between a preposition and its noun: "on the old wooden table"


def _spellings(phrase: str) -> set[str]:
    """The folded spellings of a lexicon phrase: German umlauts both as plain vowels and as "ue"."""
    lower = phrase.casefold()
    return {fold(lower), fold(lower.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue"))}


def _entries() -> Iterator[tuple[str, _Word]]:
    """Every folded spelling of every lexicon phrase, with its meaning."""

    def by_language(word: _Word, table: dict[str, dict[str, tuple[str, ...]]]) -> Iterator[tuple[_Word, tuple]]:
        for value, phrases in table.items():
            for language, spelled in phrases.items():
                yield word._replace(value=value, languages=frozenset({language})), spelled

    tables: list[tuple[_Word, Iterable[str]]] = [
        *by_language(_Word("technique"), lex.TECHNIQUE_WORDS),
        (_Word("brush", "brushing"), _flat(lex.BRUSHES)),
        (_Word("tool"), _flat(lex.TOOLS)),
        *by_language(_Word("material"), lex.MATERIAL_WORDS),
        *by_language(_Word("material", thing=True), lex.OBJECT_WORDS),
        *((_Word("material", m, brand=True), models) for m, models in lex.MIC_MODELS.items()),
        (_Word("ear"), _flat(lex.EAR_WORDS)),
        (_PLAIN, (*lex.NOT_EARS, *lex.PLAIN_PHRASES)),
        (_Word("other"), _flat(lex.OTHER_TRIGGERS)),
        (_Word("talk"), _flat(lex.NON_TRIGGERS)),
        (_Word("speech"), _flat(lex.SPEECH_WORDS)),
        (_Word("mix"), _flat(lex.MIX_WORDS)),
    ]
    for word, phrases in tables:
        yield from ((spelling, word) for phrase in phrases for spelling in _spellings(phrase))


def _function_words() -> dict[str, _Word]:
    """Function word spelling -> its roles, over all languages."""
    roles: dict[str, set[str]] = {}
    for role, words in lex.FUNCTION_WORDS.items():
        for spelling in (s for w in words for s in _spellings(w)):
            roles.setdefault(spelling, set()).add(role)
    return {spelling: _Word("function", roles=frozenset(r)) for spelling, r in roles.items()}


def _cjk_words(spellings: Iterable[str]) -> dict[str, list[str]]:
    """The Japanese and Korean words of ``spellings`` by first character, longest first."""
    by_first: dict[str, list[str]] = {}
    for piece in sorted({p for s in spellings for p in s.split() if _CJK_RE.match(p)}, key=len, reverse=True):
        by_first.setdefault(piece[0], []).append(piece)
    return by_first


_ENTRIES = list(_entries())
_FUNCTION = _function_words()
_CJK_WORDS = _cjk_words([*(s for s, _ in _ENTRIES), *_FUNCTION])


def _split_cjk(run: str) -> Iterator[str]:
    """A Japanese or Korean run as lexicon words (longest first, left to right) and the text between them."""
    start = i = 0
    while i < len(run):
        word = next((w for w in _CJK_WORDS.get(run[i], ()) if run.startswith(w, i)), None)
        if word is None:
            i += 1
            continue
        if start < i:
            yield run[start:i]
        yield word
        i = start = i + len(word)
    if start < len(run):
        yield run[start:]


def _raw_tokens(folded: str) -> Iterator[str]:
    """The words of folded text, Japanese and Korean runs split, nothing corrected."""
    for match in _TOKEN_RE.finditer(folded):
        token = match.group()
        if _CJK_RE.match(token):
            yield from _split_cjk(token)
        else:
            yield token


def _phrase_index(materials: bool) -> dict[int, dict[tuple[str, ...], _Word]]:
    """Phrase length -> words -> meaning, for the material phrases or for all the others."""
    index: dict[int, dict[tuple[str, ...], _Word]] = {}
    for spelling, word in _ENTRIES:
        if (word.kind == "material") == materials:
            key = tuple(_raw_tokens(spelling))
            known = index.setdefault(len(key), {}).get(key)
            if known is not None and known._replace(languages=word.languages) == word:  # one meaning, more languages
                word = word._replace(languages=known.languages | word.languages)
            index[len(key)][key] = word
    return index


# Materials are matched before everything else.
_PHRASE_INDEXES = (_phrase_index(materials=True), _phrase_index(materials=False))


def _meanings() -> dict[str, str | tuple[str, str] | None]:
    """What a Latin word means on its own, for corrections: a technique or material name, the kind of the
    other entries ("tool", "other", ...), ("part", word) for a word found only inside phrases or German
    compounds, and None for function words and the real words never to be corrected."""
    meanings: dict[str, str | tuple[str, str] | None] = {}
    for index in _PHRASE_INDEXES:
        meanings.update({key[0]: word.value or word.kind for key, word in index.get(1, {}).items()})
    parts = [t for index in _PHRASE_INDEXES for n, phrases in index.items() if n > 1 for key in phrases for t in key]
    for part in (*parts, *(s for w in lex.COMPOUND_HEADS for s in _spellings(w))):
        meanings.setdefault(part, ("part", part))
    meanings.update(dict.fromkeys((*_FUNCTION, *(s for w in lex.FUZZY_STOP_WORDS for s in _spellings(w)))))
    return {w: m for w, m in meanings.items() if not _CJK_RE.match(w)}


def _deletions(word: str, depth: int) -> set[str]:
    """``word`` with up to ``depth`` letters deleted."""
    found = frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        found = found | frontier
    return found


def _near_index() -> dict[str, list[str]]:
    """Deletion index over the known words: a word and its typo share a string with at most two letters
    deleted from each. Words under 7 letters need one deletion, as only words of 9 or more get two edits."""
    near: dict[str, list[str]] = {}
    for word in (w for w in _MEANING if w.isalpha() and len(w) >= 4):
        for deleted in _deletions(word, 2 if len(word) >= 7 else 1):
            near.setdefault(deleted, []).append(word)
    return near


_MEANING = _meanings()
_STANDALONE = frozenset(w for w, m in _MEANING.items() if m is not None and not isinstance(m, tuple))
# Materials that start a German compound naming a thing made of them; no mic ("micro" in "microwave").
_MATERIAL_HEADS = frozenset(w for w, m in _MEANING.items() if m in MATERIALS and m not in _MICS and len(w) >= 4)
_PARTS = frozenset(w for w, m in _MEANING.items() if m is not None)
_NEAR = _near_index()
_SAME_SOUND = str.maketrans("v", "b")
_HANGUL_RE = re.compile("[\uac00-\ud7af]+")
# Korean lexicon words of three syllables or more, in letters (jamo), and what they mean.
_HANGUL_MEANING = {s: (w.kind, w.value) for s, w in _ENTRIES if _HANGUL_RE.fullmatch(s) and len(s) >= 3}
_HANGUL_WORDS = {s: unicodedata.normalize("NFD", s) for s in _HANGUL_MEANING}
# Materials of five letters ending in a vowel, by their first four: "vetr" (vetro), "legn" (legno).
_CLIPPED = {w[:-1]: w for w, m in _MEANING.items() if m in MATERIALS and len(w) == 5 and w[-1] in "aeiou"}


def _distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (optimal string alignment): insertions, deletions, substitutions and
    swaps of two neighbouring letters each count one."""
    before, previous = [0] * (len(b) + 1), list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], before[j - 2] + 1)
        before, previous = previous, current
    return previous[-1]


def _fuzzy(word: str) -> str | None:
    """The vocabulary word ``word`` is a typo of, or None.

    Words of 5-8 letters may be one edit away, longer ones two, shorter ones none; the first letter must
    match (typos rarely hit it, and that halves the real words nearby), b and v counting as one letter (they
    sound alike in Spanish: "bidrio"). All the closest words must have one
    meaning, and none may be a function word or a listed real word (``FUZZY_STOP_WORDS``), because the
    vocabulary's words lie close to each other and to everyday words: "taping" is one edit from "tapping"
    and from "typing" (another trigger), "copas" (glasses) from "capas" (layers), "plastica" from "platica"
    (chat), "combs" from "combo"; "rapping" and "tipped" are one from tapping words, "sleeping" from
    "sweeping", "message" from "massage", "stretching" two from "scratching". A typo as near to two
    meanings ("typping") is left alone rather than guessed."""
    if len(word) < 5:
        return None
    limit = 1 if len(word) <= 8 else 2
    candidates = {c for d in _deletions(word, limit) for c in _NEAR.get(d, ())}
    by_distance: dict[int, list[str]] = {}
    first = word[0].translate(_SAME_SOUND)
    for candidate in (
        c for c in candidates if c[0].translate(_SAME_SOUND) == first and abs(len(c) - len(word)) <= limit
    ):
        if (distance := _distance(word, candidate)) <= limit:
            by_distance.setdefault(distance, []).append(candidate)
    if not by_distance:
        return None
    closest = sorted(by_distance[min(by_distance)])
    meanings = {_MEANING[c] for c in closest}
    return closest[0] if len(meanings) == 1 and None not in meanings else None


def _singulars(word: str) -> Iterator[str]:
    """Singulars ``word`` may be the plural of: "bodies" -> "body", "boxes" -> "box", "woods" -> "wood"."""
    if word.endswith("ies"):
        yield word[:-3] + "y"
    if word.endswith("es"):
        yield word[:-2]
    if word.endswith("s"):
        yield word[:-1]


def _compound(head: str, tail: str) -> bool:
    """Whether ``head + tail`` is a compound of two lexicon words ("holzklopfen"), or a material and the
    thing made of it, named or not ("holzbrettchen", "metallschüssel")."""
    if head in _MATERIAL_HEADS and len(tail) >= 4:
        return True
    return head in _PARTS and tail in _PARTS and (head in _STANDALONE or tail in _STANDALONE)


def _hangul_typo(word: str) -> str | None:
    """The Korean word of three or more syllables that ``word``, not a lexicon word, is one letter (jamo)
    away from, if all such words have one meaning ("속사임": 속삭임, whispering)."""
    if len(word) < 3 or not _HANGUL_RE.fullmatch(word) or word in _HANGUL_WORDS:
        return None
    letters = unicodedata.normalize("NFD", word)
    close = [w for w, jamo in _HANGUL_WORDS.items() if abs(len(w) - len(word)) <= 1 and _distance(letters, jamo) == 1]
    meanings = {_HANGUL_MEANING[w] for w in close}
    return min(close) if len(meanings) == 1 else None


def _denglisch(word: str) -> Iterator[str]:
    """English stems a German-looking verb may be made of: "tapen" -> "tap", "tappen" -> "tapp", "tap"."""
    stem = word[:-2]
    if not word.endswith("en") or len(stem) < 3:
        return
    yield stem
    if stem[-1] == stem[-2]:
        yield stem[:-1]


@lru_cache(maxsize=8192)
def _correct(word: str) -> tuple[str, ...]:
    """A word as the lexicon spells it. A Japanese or Korean one: itself, or the Korean word it is a typo of
    (``_hangul_typo``). A Latin one: itself if known, else its singular ("woods"), the English technique of
    a German-looking verb ("tapen", "scratchen"), its two parts ("holzklopfen"), a five-letter material less
    its final vowel ("vetr"), the word it or its singular is a typo of ("scracthing", "bonettes"), or
    itself."""
    if _CJK_RE.match(word):
        return (_hangul_typo(word) or word,)
    if word in _MEANING or not word.isalpha():
        return (word,)
    for singular in _singulars(word):
        if len(singular) >= 3 and _MEANING.get(singular) is not None:
            return (singular,)
    for stem in _denglisch(word):
        if _MEANING.get(stem) in TECHNIQUES:
            return (stem,)
    if word in _CLIPPED:
        return (_CLIPPED[word],)
    for cut in range(len(word) - 3, 2, -1):
        if _compound(word[:cut], word[cut:]):
            return word[:cut], word[cut:]
    fixed = _fuzzy(word) or next(filter(None, map(_fuzzy, _singulars(word))), None)
    return (fixed or word,)


def _tokens(text: str) -> list[str]:
    """The label's words, folded, Japanese and Korean runs split, words corrected (``_correct``)."""
    return [t for raw in _raw_tokens(fold(text)) for t in _correct(raw)]


def _read(tokens: list[str]) -> list[_Word]:
    """The label's phrases, longest first, materials before the rest; other tokens as function or plain."""
    found: dict[int, tuple[int, _Word]] = {}
    taken = [False] * len(tokens)
    for index in _PHRASE_INDEXES:
        for n in sorted(index, reverse=True):
            for i in range(len(tokens) - n + 1):
                if not any(taken[i : i + n]) and (word := index[n].get(tuple(tokens[i : i + n]))) is not None:
                    found[i] = (n, word)
                    taken[i : i + n] = [True] * n
    words, i = [], 0
    while i < len(tokens):
        n, word = found.get(i, (1, _FUNCTION.get(tokens[i], _PLAIN)))
        words.append(word)
        i += n
    return words


def _next(words: list[_Word], i: int, step: int) -> int | None:
    """The index of the first word after (step 1) or before (step -1) ``i`` that is not an article."""
    j = i + step
    while 0 <= j < len(words) and "det" in words[j].roles:
        j += step
    return j if 0 <= j < len(words) else None


def _negates(negation: _Word, word: _Word, portuguese: bool) -> bool:
    """Whether ``negation`` drops ``word``: any lexicon word; a material after a negation that is also a
    preposition (Portuguese "no" is "on the": "batidinhas no vidro", "tapping no 3Dio") only in a label with
    no Portuguese word, and if Portuguese does not spell the material so ("no windscreen", not "no metal")."""
    if word.kind in ("plain", "function"):
        return False
    if word.kind == "material" and "on" in negation.roles:
        return not portuguese and bool(word.languages) and "pt" not in word.languages
    return True


def _without_negated(words: list[_Word]) -> list[_Word]:
    """``words`` less each negation and the word it negates ("no talking", "sin susurros", "トークなし")."""
    portuguese = any("pt" in w.languages for w in words)
    dropped: set[int] = set()
    for i, word in enumerate(words):
        for role, step in (("neg", 1), ("neg_after", -1)):
            j = _next(words, i, step) if role in word.roles else None
            if j is not None and _negates(word, words[j], portuguese):
                dropped |= {i, j}
    return [w for i, w in enumerate(words) if i not in dropped]


def _noun_after(words: list[_Word], i: int) -> int | None:
    """The material a preposition at ``i`` introduces, past at most ``_SKIP`` articles or other words."""
    for j in range(i + 1, min(i + 2 + _SKIP, len(words))):
        if words[j].kind == "material":
            return j
        if words[j].kind not in ("function", "plain"):
            return None
    return None


def _on_tool(words: list[_Word], i: int) -> bool:
    """Whether the material at ``i`` is what a tool is made of: "wooden brush", "木のブラシ", "peine de metal"."""
    after = i + 2 if i + 2 < len(words) and "link" in words[i + 1].roles else i + 1
    if after < len(words) and words[after].kind in _TOOLS:
        return True
    return i >= 2 and "of" in words[i - 1].roles and words[i - 2].kind in _TOOLS


def _used_with(words: list[_Word], i: int) -> bool:
    """Whether the material at ``i`` is held, not sounded: "with a metal spoon", "con vidrio", "木で"."""
    if i + 1 < len(words) and "with_after" in words[i + 1].roles:
        return True
    return any("with" in w.roles and _noun_after(words, j) == i for j, w in enumerate(words[:i]))


def _qualified(words: list[_Word], i: int) -> bool:
    """Whether the thing at ``i`` ("jar") has its material named: right before it ("plastic jar",
    "Plastik|dosen"), before it with a link ("プラスチックの瓶") or after it with "of" ("barattoli di plastica")."""

    def material(j: int) -> bool:
        return 0 <= j < len(words) and words[j].kind == "material" and not words[j].thing

    linked = i >= 2 and "link" in words[i - 1].roles and material(i - 2)
    of = i + 2 < len(words) and "of" in words[i + 1].roles and material(i + 2)
    return material(i - 1) or linked or of


def _material(words: list[_Word], mic: str = "mic") -> set[str]:
    """The materials a label's words leave: one is the label's material, none or several are not.

    A held material, one a tool is made of ("a wooden brush", "peine de metal") or one used with
    ("with a metal spoon"), counts only when the label names no other ("wooden comb tapping"). A mic that
    qualifies a tool does not count ("fluffy brush" is a soft brush, not the foam cover); a mic used with
    is the mic recording ("massage with 3Dio", "3Dioで"). A generic mic with a foam or binaural one is that
    one ("foam cover on the mic", "micrófono de espuma"); else a mic word is the video's ``mic``. In "<material>
    <tool> on <surface>" the surface wins: materials before the first preposition that introduces one ("on",
    "sur", "auf", "en", "no", "sul", ...) are dropped. Japanese and Korean have postpositions and a freer
    word order: for them only the tool rules apply. A thing whose material is named is that material
    ("metal water bottle")."""
    materials = [i for i, w in enumerate(words) if w.kind == "material" and not (w.thing and _qualified(words, i))]
    on_tool = {i for i in materials if _on_tool(words, i)}
    # a foam or binaural word before a tool is what the tool is like ("fluffy brush"); a plain mic is not
    # a tool's material but the mic in a free word order ("마이크 손톱으로 긁기": the mic, with the nails)
    materials = [i for i in materials if not (i in on_tool and words[i].value in _MICS - {"mic"})]
    held = on_tool | {i for i in materials if words[i].value not in _MICS and _used_with(words, i)}
    values = {i: words[i].value for i in materials}
    specific = {values[i] for i in materials if i not in held} & {"sponge_mic", "bi_mic"}
    if len(specific) == 1:
        (kind,) = specific
        values = {i: kind if v == "mic" else v for i, v in values.items()}
    elif not specific:
        values = {i: mic if v == "mic" and not words[i].brand else v for i, v in values.items()}
    surfaces = [i for i, w in enumerate(words) if "on" in w.roles and _noun_after(words, i) not in {None, *on_tool}]
    if surfaces:
        materials = [i for i in materials if i > surfaces[0]]
    return {values[i] for i in materials if i not in held} or {values[i] for i in materials}


def _whispered(words: list[_Word], i: int) -> bool:
    """Whether a whispering word stands beside the word at ``i``, function words between them aside
    ("whispered ramble", "囁き雑談", "囁き声でおしゃべり", "chatting in a whisper")."""
    for step in (-1, 1):
        j = i + step
        while 0 <= j < len(words) and words[j].kind == "function":
            j += step
        if 0 <= j < len(words) and words[j].value == "whispering":
            return True
    return False


def _in_context(word: _Word, binaural: bool) -> _Word:
    """``word`` in a video on a binaural mic or not: ears are that mic's, else nobody's material."""
    if word.kind != "ear":
        return word
    return _Word("material", "bi_mic") if binaural else _PLAIN


def _techniques(words: list[_Word]) -> set[str]:
    """The techniques a label's words name: its technique words, else its brushes ("a brush on the mic")."""
    return {w.value for w in words if w.kind == "technique"} or {w.value for w in words if w.kind == "brush"}


def section_technique(text: str) -> str | None:
    """The technique a section's label names if it names one and no speech or other trigger, mixed or not
    ("tapping vari", "glass and wood tapping"): a finer list splitting the section by material keeps it.
    Whispering takes no material, so it is None too."""
    words = _without_negated(_read(_tokens(text)))
    techniques = _techniques(words)
    if {w.kind for w in words} & {"talk", "speech", "other"} or len(techniques) != 1 or "whispering" in techniques:
        return None
    return techniques.pop()


def label_parts(text: str) -> tuple[str | None, str | None]:
    """The one technique and the one material a label names, each None where it names none or several (and
    both None where it names speech, talk or a mix): what a heading ("✨ TAPPING ✨", "🪵 LEGNO") gives the
    list lines under it. Whispering takes no material, so it is no technique here."""
    words = _without_negated(_read(_tokens(text)))
    if {w.kind for w in words} & {"talk", "speech", "mix", "other"}:
        return None, None
    techniques, materials = _techniques(words) - {"whispering"}, _material(words)
    return (
        next(iter(techniques)) if len(techniques) == 1 else None,
        next(iter(materials)) if len(materials) == 1 else None,
    )


def named_mics(text: str) -> set[str]:
    """The kinds of mic ``text`` names, not negated, line by line; a mic word ("mic", "micros") on a line
    naming a foam or binaural mic is that one ("3Dio binaural mic", "micros binauraux"), a brand is its
    own ("Blue Yeti + 3Dio": mic and bi_mic)."""
    kinds: set[str] = set()
    for line in text.splitlines():
        words = _without_negated(_read(_tokens(line)))
        mics = [w for w in words if w.kind == "material" and w.value in _MICS]
        specific = any(w.value != "mic" for w in mics)
        kinds |= {w.value for w in mics if w.value != "mic" or w.brand or not specific}
    return kinds


def names_binaural(text: str) -> bool:
    """Whether ``text`` (a video's title and description) names a binaural mic, not negated ("3Dio",
    "KU100", "micros binauraux"): then the video is taken as recorded on it."""
    return any(w.kind == "material" and w.value == "bi_mic" for w in _without_negated(_read(_tokens(text))))


def normalise_trigger(
    text: str, binaural: bool = False, mic: str = "mic", technique: str | None = None, material: str | None = None
) -> str:
    """Map a free-text label onto a taxonomy name, or return ``UNKNOWN`` rather than guess. The video's
    context: ``binaural``, it is recorded on a binaural mic, so the ears a label names are its ears; ``mic``,
    what a mic word with no kind named is ("bi_mic" when the video names that mic and no other);
    ``technique``, that of the section the label splits (``section_technique``), taken by a label naming a
    material and no technique ("legno" under "tapping vari"); ``material``, that of the heading a label is
    listed under, taken by a label naming a technique and no material ("tapping" under "🪵 LEGNO").

    >>> normalise_trigger("Tapping on a wine glass")
    'tapping_glass'
    >>> normalise_trigger("3Dio ear massage")
    'massaging_bi_mic'
    >>> normalise_trigger("ear massage", binaural=True)
    'massaging_bi_mic'
    >>> normalise_trigger("golpecitos en vidrio")
    'tapping_glass'
    >>> normalise_trigger("mic brushing", mic="bi_mic")
    'brushing_bi_mic'
    >>> normalise_trigger("legno", technique="tapping")
    'tapping_wood'
    >>> normalise_trigger("graffi", material="wood")
    'scratching_wood'
    """
    words = [_in_context(w, binaural) for w in _without_negated(_read(_tokens(text)))]
    words = [w for i, w in enumerate(words) if not (w.kind == "speech" and _whispered(words, i))]
    kinds = {w.kind for w in words}
    if kinds & {"talk", "speech", "mix", "other"}:
        return UNKNOWN
    materials = _material(words, mic)
    techniques = _techniques(words) or ({technique} if technique is not None and len(materials) == 1 else set())
    if len(techniques) != 1:
        return UNKNOWN
    (named,) = techniques
    if named == "whispering":
        return named
    if len(materials) > 1:
        return UNKNOWN
    materials = materials or ({material} if material is not None else set())
    return f"{named}_{materials.pop()}" if materials else named
