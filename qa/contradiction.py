"""Structural verdicts on a claim against what it cites: contradicted, entailed, or left to the learned
verifier. Pure over qa.nlp parses (ClaimChecker parses them, once per text); one module serves the
LLM answerer's citation check, `qa eval run` / `qa eval score` and, through them, the API's flags.

Each claim sentence is aligned with the cited sentence holding the largest share of its content words
(qa.alignment keys: lemmas, places, values, months). Against that sentence a claim is contradicted when
it
  - puts another number, amount or date where the sentence has one in the same role (or the one the
    claim otherwise follows);
  - names another person, organisation or place there, or swaps who did what to whom;
  - reverses polarity: a negation added or dropped on a verb the two share, or a stance or reporting
    verb replaced by its opposite (qa/data/opposites.txt);
  - adds a quantifier or qualifier the sentence lacks (qa/data/qualifiers.txt).
A claim sentence whose every content word, fact and predicate the aligned sentence bears out (a
passive for an active, "Olaf Scholz is Germany's chancellor" for "German Chancellor Olaf Scholz",
"about 20" for "approximately 20", "26 February" for "February 26", "stated" for "said") is entailed.
Anything else (a claim that rests on no one sentence, a fact the cited sentence lacks without putting
another in its place) is undecided: the learned verifier decides.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from qa.alignment import NEGATIONS, Frame, Predicate, argument_keys, is_speech, polarity, read_frames, token_keys
from qa.conflicts import fact_conflict, fact_matched, role_conflict, slot_conflict
from qa.lexicon import opposites, qualifiers
from qa.nlp import Language, Parse

# what the learned verifier reads of structure: the weakest and mean share of a claim sentence's words
# its closest cited sentence holds, the share of its dependency arcs some cited sentence has, its
# facts no cited sentence states, the share of its sentences entailed, and whether one is contradicted
MEASURES = ("struct_min_share", "struct_mean_share", "struct_arcs", "struct_novel_facts", "struct_entailed",
            "struct_contradicted")
ALIGNED = 0.5  # share of a claim sentence's content words its closest cited sentence must hold
CONTRADICTED, ENTAILED, UNDECIDED = "contradicted", "entailed", "undecided"
LIGHT_VERBS = frozenset({"be", "have", "do"})
CONTRADICTED_SHARE = 0.8  # a contradicted claim's score lies in [0, 0.8 x threshold)
MEMO = 4096  # parsed texts kept by a ClaimChecker
_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_SENTENCE_START = re.compile(r"(?:^|(?<=[.!?]\s))\s*[a-z]")
@dataclass(frozen=True)
class Verdict:
    """What structure says of a claim: CONTRADICTED (kind and a one-line reason), ENTAILED or UNDECIDED."""

    verdict: str
    kind: str = ""  # "number", "date", "name", "place", "role", "polarity", "stance", "qualifier"
    reason: str = ""
    sentence: str = ""  # the cited sentence the claim rests on, "" when none
    measures: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)  # MEASURES, for the learned verifier

    @property
    def contradicted(self) -> bool:
        """Return True when the claim says something its cited sentence contradicts."""
        return self.verdict == CONTRADICTED

    @property
    def entailed(self) -> bool:
        """Return True when the cited sentence bears out everything the claim says."""
        return self.verdict == ENTAILED


def fold(score: float, verdict: Verdict, *, threshold: float) -> float:
    """Return a support score with the structural verdict folded in: a contradicted claim falls below
    `threshold` (keeping its order among contradicted ones), an entailed one rises to it if below."""
    if verdict.contradicted:
        return CONTRADICTED_SHARE * threshold * score
    if verdict.entailed:
        return max(score, threshold)
    return score


def judge_claim(claim: Parse, sources: Sequence[Parse], *, cased: bool = True) -> Verdict:
    """Return the structural verdict on `claim` (one or more sentences) against the cited `sources`:
    the first contradicted sentence's verdict, ENTAILED when every sentence is, else UNDECIDED; each
    with the claim's MEASURES. A claim not `cased` as written (truecase) cannot tell a name by its
    capital."""
    frames = [f for source in sources for f in read_frames(source)]
    claims = [frame for frame in read_frames(claim) if frame.content]
    verdicts = [judge_sentence(frame, frames, cased=cased) for frame in claims]
    if not verdicts or not frames:
        return Verdict(UNDECIDED)
    found = measure(claims, frames, verdicts=verdicts)
    contradicted = next((v for v in verdicts if v.contradicted), None)
    if contradicted is not None:
        return replace(contradicted, measures=found)
    state = ENTAILED if all(v.entailed for v in verdicts) else UNDECIDED
    return Verdict(state, sentence=verdicts[0].sentence, measures=found)


def measure(claims: Sequence[Frame], sources: Sequence[Frame], *, verdicts: Sequence[Verdict]) -> tuple[float, ...]:
    """Return the MEASURES of claim sentences against the cited sentences, given their verdicts."""
    shares = [align(frame, sources)[1] for frame in claims]
    arcs = [arc for frame in claims for arc in frame.arcs]
    held = {(a, b) for frame in sources for child, head in frame.arcs for a in child for b in head}
    found = sum(1 for child, head in arcs if any((a, b) in held or (b, a) in held for a in child for b in head))
    facts = [f for frame in claims for f in frame.facts]
    novel = sum(1 for f in facts if not any(fact_matched(f, s) for s in sources))
    return (min(shares), sum(shares) / len(shares), found / len(arcs) if arcs else 1.0, float(novel),
            sum(v.entailed for v in verdicts) / len(verdicts), float(any(v.contradicted for v in verdicts)))


def judge_sentence(claim: Frame, sources: Sequence[Frame], *, cased: bool = True) -> Verdict:
    """Return the verdict on one claim sentence against the cited sentences `sources`."""
    aligned, share = align(claim, sources)
    if aligned is None or share < ALIGNED:
        return Verdict(UNDECIDED)
    found = (_polarity(claim, aligned) or fact_conflict(claim, aligned) or role_conflict(claim, aligned)
             or _qualifier(claim, aligned) or (slot_conflict(claim, aligned) if cased else None))
    if found is not None:
        kind, reason = found
        return Verdict(CONTRADICTED, kind=kind, reason=reason, sentence=aligned.text)
    if share >= 1.0 and all(fact_matched(f, aligned) for f in claim.facts) and all(
            _borne(p, aligned) for p in claim.predicates):
        return Verdict(ENTAILED, sentence=aligned.text)
    return Verdict(UNDECIDED, sentence=aligned.text)


def align(claim: Frame, sources: Sequence[Frame]) -> tuple[Frame | None, float]:
    """Return the cited sentence holding the largest share of the claim sentence's content words, and
    that share (the earlier sentence on ties)."""
    best, share = None, -1.0
    for frame in sources:
        held = coverage(claim, frame)
        if held > share:
            best, share = frame, held
    return best, max(share, 0.0)


def coverage(claim: Frame, source: Frame) -> float:
    """Return the share of the claim sentence's content words that `source` holds under some key."""
    if not claim.content:
        return 1.0
    return sum(1 for keys in claim.content if keys & source.keys) / len(claim.content)


def _polarity(claim: Frame, source: Frame) -> tuple[str, str] | None:
    """Return ("polarity" | "stance", reason) when a verb of the claim is negated where the same verb
    of the source is not (or the reverse), or is the opposite of the source's verb on the same
    arguments with the same polarity (whichever of the two shares more of its arguments)."""
    for mine in claim.predicates:
        same = [q for q in source.predicates if _same_verb(mine, q)]
        reverse = [q for q in source.predicates if _opposite(mine, q)
                   and (_shared(mine, q) or _is_main(q) or (q.head and q.head == mine.head))]
        if reverse and all(q.negated == mine.negated for q in reverse) and (
                max(_shared(mine, q) for q in reverse) > max([_shared(mine, q) for q in same], default=-1)):
            return "stance", _says(max(reverse, key=lambda q: _shared(mine, q)), mine)
        if not same and mine.negated:
            plain = _plain_use(mine, source)
            if plain:  # "did not specialize" where the source has "specialized" cells
                return "polarity", f"the cited sentence says “{plain}” where the claim says “{mine.text}”"
        if same:
            turned = [q for q in same if q.negated == mine.negated and _opposite_words(mine, q)]
            if turned:  # "voiced opposition to" for "voiced support for"
                return "stance", _says(turned[0], mine, words=_opposite_words(mine, turned[0]))
            if all(q.negated != mine.negated for q in same):
                theirs = max(same, key=lambda q: _shared(mine, q))
                if _shared(mine, theirs) or len(same) == 1:
                    return "polarity", _says(theirs, mine)
            continue
        if reverse and all(q.negated == mine.negated for q in reverse):
            return "stance", _says(max(reverse, key=lambda q: _shared(mine, q)), mine)
    return _negation(claim, source, side="the claim") or _negation(source, claim, side="the cited sentence")


def _negation(one: Frame, other: Frame, *, side: str) -> tuple[str, str] | None:
    """Return ("polarity", reason) when `one` negates a word `other` holds while `other` negates
    nothing at all (a negation added or dropped where no verb of the two lines up)."""
    if other.words & NEGATIONS:
        return None
    parse = one.parse
    for token in parse.tokens[one.span[0]:one.span[1]]:
        if token.dep == "neg" or token.lemma == "never":
            head = parse.tokens[token.head]
            if token_keys(head) & other.keys:
                other_side = "the claim" if side == "the cited sentence" else "the cited sentence"
                return "polarity", f"{side} negates “{head.text}” where {other_side} does not"
    return None


def _plain_use(mine: Predicate, source: Frame) -> str:
    """Return a word of the source with the claim's verb lemma that nothing negates, or ""."""
    parse = source.parse
    for token in parse.tokens[source.span[0]:source.span[1]]:
        if token.lemma in mine.lemmas and token.lemma not in LIGHT_VERBS and not polarity(parse, token.i):
            return token.text
    return ""


def _borne(mine: Predicate, source: Frame) -> bool:
    """Return True when the source has the claim's verb with the same polarity over arguments that
    hold every word of the claim's; a copula ("Olaf Scholz is Germany's chancellor") is borne out by
    one phrase of the source holding all its words ("German Chancellor Olaf Scholz")."""
    words = (*mine.subject, *mine.objects)
    if mine.lemmas <= LIGHT_VERBS:
        return not words or any(all(keys & phrase for keys in words) for phrase in source.phrases)
    for theirs in source.predicates:
        same = _same_verb(mine, theirs) and theirs.negated == mine.negated
        if same or (_opposite(mine, theirs) and theirs.negated != mine.negated):
            held = argument_keys(theirs)
            if all(keys & held for keys in words):
                return True
    return False


def _same_verb(mine: Predicate, theirs: Predicate) -> bool:
    shared = mine.lemmas & theirs.lemmas
    if not shared:
        return bool(is_speech(mine.lemmas) and is_speech(theirs.lemmas) and _shared(mine, theirs))
    if shared <= LIGHT_VERBS:
        return bool(_shared(mine, theirs))  # "is" alone says little: the same arguments must come with it
    return True


def _opposite(mine: Predicate, theirs: Predicate) -> bool:
    reverse = opposites()
    return any(reverse.get(lemma, frozenset()) & theirs.lemmas for lemma in mine.lemmas)


def _shared(mine: Predicate, theirs: Predicate) -> int:
    held = argument_keys(theirs)
    return sum(1 for keys in (*mine.subject, *mine.objects) if keys & held)


def _is_main(predicate: Predicate) -> bool:
    return bool(predicate.objects)


def _opposite_words(mine: Predicate, theirs: Predicate) -> tuple[str, str] | None:
    """Return (the source's word, the claim's) when an argument of the claim's verb is the opposite
    of one of the source's ("opposition" for "support"), else None."""
    reverse = opposites()
    held = argument_keys(theirs)
    for keys in (*mine.subject, *mine.objects):
        for key in keys:
            found = reverse.get(key, frozenset()) & held
            if found and not keys & held:
                return min(found), key
    return None


def _says(theirs: Predicate, mine: Predicate, *, words: tuple[str, str] | None = None) -> str:
    if words is not None:
        return f"the cited sentence says “{words[0]}” where the claim says “{words[1]}”"
    return f"the cited sentence says “{theirs.text}” where the claim says “{mine.text}”"


def _qualifier(claim: Frame, source: Frame) -> tuple[str, str] | None:
    """Return ("qualifier", reason) for a quantifier or qualifier the claim holds and the source lacks."""
    mine, theirs = _lower(claim.text), _lower(source.text)
    for group in qualifiers():
        said = [w for w in group if _holds(mine, w)]
        if said and not any(_holds(theirs, w) for w in group):
            return "qualifier", f"the claim adds “{said[0]}”, which the cited sentence does not say"
    return None


def _holds(text: str, phrase: str) -> bool:
    return re.search(rf"\b{re.escape(phrase)}\b", text) is not None


def _lower(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").split())


class ClaimChecker:
    """Structural verdicts over a Language: parses claims and passages in batches, each text once."""

    def __init__(self, language: Language) -> None:
        self.language = language
        self._parses: dict[str, Parse] = {}

    def check(self, claim: str, passages: Sequence[str]) -> Verdict:
        """Return the structural verdict on `claim` against `passages`."""
        return self.check_many([(claim, passages)])[0]

    def check_many(self, pairs: Sequence[tuple[str, Sequence[str]]]) -> list[Verdict]:
        """Return check() of each (claim, passages) pair, parsing every new text in one batch; a claim
        written all in lower case is read with the casing its passages give its words."""
        claims = [truecase(claim, _passages(passages)) for claim, passages in pairs]
        self._parse(claims + [p for _, passages in pairs for p in _passages(passages)])
        return [judge_claim(self._parses[claim], [self._parses[p] for p in _passages(passages)],
                            cased=claim == written)
                for claim, (written, passages) in zip(claims, pairs)]

    def _parse(self, texts: list[str]) -> None:
        missing = [t for t in dict.fromkeys(texts) if t not in self._parses]
        if not missing:
            return
        if len(self._parses) + len(missing) > MEMO:
            self._parses.clear()
        self._parses.update(zip(missing, self.language.parse_many(missing)))


def truecase(claim: str, passages: Sequence[str]) -> str:
    """Return a claim written all in lower case (a tokenised summary) with each word cased as its
    passages mostly write it inside a sentence and each sentence capitalised; other claims as they are."""
    if any(c.isupper() for c in claim):
        return claim
    counts: dict[str, dict[str, int]] = {}
    for passage in passages:
        for match in _WORD.finditer(passage):
            if match.start() > 1 and passage[match.start() - 2] not in ".!?\"'“‘":
                forms = counts.setdefault(match.group().lower(), {})
                forms[match.group()] = forms.get(match.group(), 0) + 1
    cased = _WORD.sub(lambda m: _usual(m.group(), counts), claim)
    return _SENTENCE_START.sub(lambda m: m.group().upper(), cased)


def _usual(word: str, counts: dict[str, dict[str, int]]) -> str:
    forms = counts.get(word)
    return max(forms, key=lambda f: (forms[f], f == word)) if forms else word


def _passages(passages: Sequence[str] | str) -> list[str]:
    items = [passages] if isinstance(passages, str) else list(passages)
    return [p for p in dict.fromkeys(items) if p.strip()]
