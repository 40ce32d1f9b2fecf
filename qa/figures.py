"""Numbers and dates as written, read into values: "1,200,000", "twenty", "$4.5 million", "between $25
million and $30 million", "Feb. 26", "26th", "2010"; pure."""

from __future__ import annotations

import re

from qa.nlp import Token

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_NUMBER_WORDS.update({"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
                      "ninety": 90, "dozen": 12})
_SCALES = {"hundred": 1e2, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12, "m": 1e6, "bn": 1e9}
_DIGITS = re.compile(r"^\$?(\d+(?:[.,]\d+)*)(?:st|nd|rd|th|s)?%?$")
_YEAR = re.compile(r"^(1[5-9]\d\d|20\d\d)s?$")


def number_value(text: str) -> float | None:
    """Return the value a number word or figure stands for ("1,200,000", "twenty", "26th"), else None."""
    word = text.lower().strip()
    if word in _NUMBER_WORDS:
        return float(_NUMBER_WORDS[word])
    match = _DIGITS.match(word)
    if not match:
        return None
    digits = match.group(1)
    if re.fullmatch(r"\d{1,3}(,\d{3})+", digits):
        digits = digits.replace(",", "")
    try:
        return float(digits.replace(",", "."))
    except ValueError:
        return None


def month_of(word: str) -> str:
    """Return the month a word names ("Feb", "february"), or ""."""
    word = word.lower().strip(".")
    if len(word) < 3:
        return ""
    return next((m for m in MONTHS if m.startswith(word) and (len(word) >= 3 and (word == m or len(word) <= 4))), "")


def amounts(tokens: tuple[Token, ...]) -> list[float]:
    """Return the values of a number phrase ("$4.5 million", "between $25 million and $30 million",
    "three"; none for "several thousand"), each with the scale words after it."""
    values: list[float] = []
    scaled = True
    for token in tokens:
        word = token.text.lower()
        if word in _SCALES and values and not scaled:
            values[-1] *= _SCALES[word]
        elif (value := number_value(word)) is not None:
            values.append(value)
            scaled = False
        else:
            scaled = True
    return values


def date_keys(tokens: tuple[Token, ...]) -> set[str]:
    """Return the parts a date states: "year:2024", "month:february", "day:26", "weekday:tuesday"."""
    keys: set[str] = set()
    days: set[str] = set()
    for token in tokens:
        word = token.text.lower().strip(".,")
        month = month_of(word) if token.text[:1].isupper() or len(word) > 4 else ""
        if month:
            keys.add(f"month:{month}")
        elif _YEAR.match(word):
            keys.add(f"year:{word[:4]}")
        elif re.fullmatch(r"\d+(st|nd|rd|th)?", word):
            days.add(f"day:{int(re.sub(r'[a-z]', '', word))}")
        elif word in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"):
            keys.add(f"weekday:{word}")
    if any(k.startswith("month:") for k in keys):
        keys |= days  # "26" is a day beside a month only ("the 27-year-old" is no date)
    return keys


def year_of(text: str) -> str:
    """Return the year a word names ("1998", "1990s" -> "1990"), or ""."""
    match = _YEAR.match(text)
    return match.group(1) if match else ""
