"""Altered claims for checking the support verifier: a faithful claim with exactly one fact changed,
and the same claim said another way.

A faithful claim is a sentence taken verbatim from its source: the sentence of a SQuAD paragraph
holding a question's answer span, or any sentence of a corpus article. Each alteration changes one
thing: a name for another name of the same source, a number for another number, a date (a year or a
month) for another one, or the polarity of a verb ("is" -> "is not", "won" -> "did not win", "did not
win" -> "did win"); with the claims' parses also a stance verb turned into its opposite, a quantifier
added or a place swapped, and the rephrasings of qa.evaluation.rewrites. A verifier should score the
faithful claim above every altered one, reject the altered ones and accept the rephrasings. Pure: the
caller passes the parsed data and a seeded random.Random.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from qa.evaluation.rewrites import ALTERATIONS, alter_parsed, rephrase_parsed
from qa.models import Article
from qa.nlp import Parse
from qa.sentences import split_sentences
from qa.terms import STOPWORDS

KINDS = ("name", "number", "date", "polarity", *ALTERATIONS)

_MONTHS = ("January February March April May June July August September October November December").split()
_CALENDAR = frozenset(_MONTHS) | frozenset("Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split())
_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?!\w)")
_NAME = re.compile(r"\b[A-Z][a-z]+(?:[ -][A-Z][a-z]+)*")
_MONTH = re.compile(r"\b(" + "|".join(_MONTHS) + r")\b")
_NEGATED = re.compile(r"\s+(?:not|never)\b|(?<=\b(ca|wo))?n['’]t\b", re.IGNORECASE)
_UNCONTRACTED = {"ca": "n", "wo": "ill"}  # "can't" -> "can", "won't" -> "will"
_AUXILIARY = re.compile(
    r"\b(is|are|was|were|has|have|had|can|could|will|would|should|may|might|must|does|do|did)\b(?!\s+not\b)")
_IRREGULAR = {
    "won": "win", "led": "lead", "became": "become", "began": "begin", "took": "take", "made": "make",
    "gave": "give", "found": "find", "held": "hold", "left": "leave", "lost": "lose", "met": "meet",
    "paid": "pay", "sent": "send", "told": "tell", "wrote": "write", "built": "build", "bought": "buy",
    "brought": "bring", "came": "come", "went": "go", "saw": "see", "rose": "rise", "fell": "fall",
    "grew": "grow", "knew": "know", "sold": "sell", "spent": "spend", "stood": "stand", "chose": "choose",
    "drove": "drive", "ran": "run", "said": "say", "thought": "think", "fought": "fight", "taught": "teach",
    "beat": "beat", "struck": "strike", "kept": "keep", "heard": "hear", "meant": "mean",
}
_PAST = re.compile(r"(?<=[a-z,] )([a-z]{2,}[a-df-z]ed|" + "|".join(_IRREGULAR) + r")\b")


@dataclass(frozen=True)
class Alteration:
    """A faithful claim, the same claim with one fact changed, and the passages the claim comes from."""

    kind: str
    faithful: str
    altered: str  # the rewritten claim
    passages: tuple[str, ...]
    keeps_meaning: bool = False  # a rephrasing (kind in REPHRASINGS), which should stay supported


def squad_claims(squad: dict, *, limit: int, rng: random.Random) -> list[tuple[str, tuple[str, ...]]]:
    """Return up to `limit` (answer sentence, (paragraph,)) pairs from parsed SQuAD v1.1 JSON, sampled."""
    found: dict[tuple[str, str], None] = {}
    for entry in squad["data"]:
        for paragraph in entry["paragraphs"]:
            context = paragraph["context"]
            spans = split_sentences(context)
            for question in paragraph["qas"]:
                start = question["answers"][0]["answer_start"]
                for first, last in spans:
                    if first <= start < last:
                        found[(" ".join(context[first:last].split()), " ".join(context.split()))] = None
    pairs = sorted(found)
    rng.shuffle(pairs)
    return [(claim, (context,)) for claim, context in pairs[:limit]]


def corpus_claims(articles: Iterable[Article]) -> list[tuple[str, tuple[str, ...]]]:
    """Return every sentence of every article, paired with all paragraphs of its article."""
    pairs = []
    for article in articles:
        for paragraph in article.paragraphs:
            pairs.extend((paragraph[s:e], tuple(article.paragraphs)) for s, e in split_sentences(paragraph))
    return pairs


def build_alterations(claims: Sequence[tuple[str, tuple[str, ...]]], *, rng: random.Random,
                      parses: Mapping[str, Parse] | None = None) -> list[Alteration]:
    """Return every alteration alter_claim makes of each faithful claim, in order; with the claims'
    `parses`, also the stance, quantifier and place alterations and the rephrasings of
    qa.evaluation.rewrites (rephrasings carry keeps_meaning)."""
    found = []
    for claim, passages in claims:
        changes = alter_claim(claim, " ".join(passages), rng=rng)
        parse = (parses or {}).get(claim)
        if parse is not None and len(parse.sentences) == 1:
            changes.update(alter_parsed(parse, rng=rng))
        found += [Alteration(kind=kind, faithful=claim, altered=altered, passages=passages)
                  for kind, altered in changes.items()]
        if parse is not None and len(parse.sentences) == 1:
            found += [Alteration(kind=kind, faithful=claim, altered=text, passages=passages, keeps_meaning=True)
                      for kind, text in rephrase_parsed(parse, rng=rng).items()]
    return found


def alter_claim(claim: str, context: str, *, rng: random.Random) -> dict[str, str]:
    """Return kind -> `claim` with one name, number, date or verb polarity changed, for each kind that
    applies; replacement names and numbers come from `context` when it has some."""
    changes = {
        "name": _swap_name(claim, context, rng=rng),
        "number": _swap_number(claim, context, rng=rng),
        "date": _swap_date(claim, context, rng=rng),
        "polarity": _flip_polarity(claim),
    }
    return {kind: text for kind, text in changes.items() if text and text != claim}


def _swap_name(claim: str, context: str, *, rng: random.Random) -> str | None:
    """Return `claim` with one name past its first word replaced by a different name of `context`: one
    sharing no word with a capitalised word of the claim, and not a one-word phrase opening a sentence
    ("However", "Since") unless the context also writes it capitalised mid-sentence."""
    names = [m for m in _NAME.finditer(claim) if m.start() > 0 and _is_name(m.group())]
    if not names:
        return None
    target = rng.choice(names)
    used = {w for m in _NAME.finditer(claim) for w in m.group().replace("-", " ").split()}
    others = sorted(n for n in _context_names(context) if not set(n.split()) & used)
    if not others:
        return None
    return claim[:target.start()] + rng.choice(others) + claim[target.end():]


def _context_names(context: str) -> set[str]:
    """Return the capitalised phrases of `context` that read as names (see _swap_name)."""
    found: list[tuple[str, bool]] = []  # (phrase, opens its sentence)
    for start, end in split_sentences(context):
        sentence = context[start:end]
        found += [(m.group(), not sentence[:m.start()].strip(" \"'‘“(")) for m in _NAME.finditer(sentence)
                  if _is_name(m.group())]
    inside = {phrase.split()[0] for phrase, first in found if not first}
    return {phrase for phrase, first in found if not first or " " in phrase or phrase in inside}


def _swap_number(claim: str, context: str, *, rng: random.Random) -> str | None:
    """Return `claim` with one number (not a year) replaced by another number of `context`, or shifted."""
    numbers = [m for m in _NUMBER.finditer(claim) if not _YEAR.fullmatch(m.group())]
    if not numbers:
        return None
    target = rng.choice(numbers)
    others = sorted({m.group() for m in _NUMBER.finditer(context)
                     if not _YEAR.fullmatch(m.group()) and m.group() not in {n.group() for n in numbers}})
    if others:
        replacement = rng.choice(others)
    else:
        value = int(re.sub(r"\D", "", target.group()) or 0)
        replacement = str(value + rng.choice((1, 2, 3, 5, 10)) if value < 10 else value * 2)
    return claim[:target.start()] + replacement + claim[target.end():]


def _swap_date(claim: str, context: str, *, rng: random.Random) -> str | None:
    """Return `claim` with one year, else one month, replaced by another one."""
    years = list(_YEAR.finditer(claim))
    if years:
        target = rng.choice(years)
        others = sorted({y for y in _YEAR.findall(context) if y not in {m.group() for m in years}})
        replacement = rng.choice(others) if others else str(int(target.group()) + rng.choice((-3, -2, -1, 1, 2, 3)))
        return claim[:target.start()] + replacement + claim[target.end():]
    months = list(_MONTH.finditer(claim))
    if months:
        target = rng.choice(months)
        replacement = rng.choice([m for m in _MONTHS if m != target.group()])
        return claim[:target.start()] + replacement + claim[target.end():]
    return None


def _flip_polarity(claim: str) -> str | None:
    """Return `claim` un-negated when it holds a negation, else with its first auxiliary or past-tense
    verb negated."""
    negation = _NEGATED.search(claim)
    if negation:
        kept = _UNCONTRACTED.get((negation.group(1) or "").lower(), "")
        return claim[:negation.start()] + kept + claim[negation.end():]
    auxiliary = _AUXILIARY.search(claim)
    verb = _PAST.search(claim)
    if auxiliary and (not verb or auxiliary.start() < verb.start()):
        return claim[:auxiliary.end()] + " not" + claim[auxiliary.end():]
    if verb:
        return claim[:verb.start()] + "did not " + _base_form(verb.group()) + claim[verb.end():]
    return None


def _base_form(verb: str) -> str:
    """Return a plausible base form of a past-tense verb ("won" -> "win", "studied" -> "study")."""
    if verb in _IRREGULAR:
        return _IRREGULAR[verb]
    stem = verb[:-2]
    if stem.endswith("i"):
        return stem[:-1] + "y"
    if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "lsz":
        return stem[:-1]
    if re.search(r"(at|iz|is|uc|v|g|c|ur|as|u)$", stem):
        return stem + "e"
    return stem


def _is_name(text: str) -> bool:
    words = text.replace("-", " ").split()
    return not any(w in _CALENDAR or w.lower() in STOPWORDS for w in words)
