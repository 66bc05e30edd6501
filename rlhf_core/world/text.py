"""Small text helpers shared by the world and the judge.

Normalisation is the one idea here: lower-case, drop apostrophes, turn every other
non-alphanumeric run into one space. Matching "whole words, case- and punctuation-
insensitive" is then a plain substring test on space-padded normalised strings.
"""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")

UNITS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
    "eighteen", "nineteen",
)  # fmt: skip
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def normalize(text: str) -> str:
    """'Write a Poem about NATURE!' -> 'write a poem about nature'; "someone's" -> 'someones'."""
    text = unicodedata.normalize("NFKC", str(text)).translate(_APOSTROPHES).lower()
    return _NON_ALNUM.sub(" ", text.replace("'", "")).strip()


def words(text: str) -> list[str]:
    """The normalised words of `text`."""
    return _WORD.findall(normalize(text))


def has_phrase(normalized_text: str, phrase: str) -> bool:
    """Whole-word, case-insensitive test; `normalized_text` must come from `normalize`."""
    target = normalize(phrase)
    return bool(target) and f" {target} " in f" {normalized_text} "


def has_word_form(normalized_text: str, word: str) -> bool:
    """Like `has_phrase`, but also accepts a plural ("river" matches "rivers")."""
    return any(has_phrase(normalized_text, word + ending) for ending in ("", "s", "es"))


def sentences(text: str) -> list[str]:
    """Split on sentence ends and line breaks; empty pieces are dropped."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def number_to_words(n: int) -> str:
    """0..999 in words: 21 -> 'twenty one' (no hyphen, so it survives normalisation)."""
    if n < 0:
        return "minus " + number_to_words(-n)
    if n < 20:
        return UNITS[n]
    if n < 100:
        tens, unit = divmod(n, 10)
        return TENS[tens] + ("" if unit == 0 else " " + UNITS[unit])
    hundreds, rest = divmod(n, 100)
    head = UNITS[hundreds % 20] + " hundred"
    return head if rest == 0 else f"{head} {number_to_words(rest)}"


_WORD_VALUES: dict[str, int] = {w: i for i, w in enumerate(UNITS)}
_WORD_VALUES.update({w: 10 * i for i, w in enumerate(TENS) if w})


def parse_number(text: str) -> int | None:
    """'12' -> 12, 'twelve' -> 12, 'twenty one' -> 21; anything else -> None."""
    text = normalize(text)
    if text.isdigit() and len(text) <= 6:
        return int(text)
    parts = text.split()
    if not parts or len(parts) > 2 or any(p not in _WORD_VALUES for p in parts):
        return None
    if len(parts) == 1:
        return _WORD_VALUES[parts[0]]
    tens, unit = _WORD_VALUES[parts[0]], _WORD_VALUES[parts[1]]
    if tens >= 20 and tens % 10 == 0 and 0 < unit < 10:
        return tens + unit
    return None


_NUMBER_TOKEN = re.compile(
    r"(?<![\w.])-?\d+(?![\w])|\b(?:"
    + "|".join(w for w in TENS if w)
    + r")(?:[ -](?:"
    + "|".join(UNITS[1:10])
    + r"))?\b|\b(?:"
    + "|".join(UNITS)
    + r")\b",
    re.IGNORECASE,
)


def numbers_in(text: str) -> list[int]:
    """Every number stated in `text`, digits or words, in order: '7 plus five is 12' -> [7, 5, 12]."""
    found = []
    for match in _NUMBER_TOKEN.finditer(text):
        token = match.group(0).lower()
        if re.fullmatch(r"-?\d{1,9}", token):
            found.append(int(token))
            continue
        value = parse_number(token.replace("-", " "))
        if value is not None:
            found.append(value)
    return found
