"""Evaluation inputs: question sets for `qa eval run` and answers of any system for `qa eval score`.

Question set, one JSON object per line:
    {"id": str, "question": str, "history": [earlier user turns], "answerable": bool,
     "expected_quotes": [str], "expected_answer": [str], "expected_paragraphs": ["article_id:n"]}
Only id, question and answerable are required. Answers, one per line:
    {"id": str, "question": str, "answer": str, "contexts": [passage, ...]}
where [n] markers in the answer refer to contexts (1-based); "answerable" (what the system did),
"expected_answerable", "expected_answer" and "expected_quotes" may ride along.
A malformed line is reported with its file and line number; nothing is half-loaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from qa.errors import BadRequest

_STRING_LISTS = ("history", "expected_quotes", "expected_answer", "expected_paragraphs")


@dataclass
class Question:
    """One question of an evaluation set, with what a correct answer looks like."""

    id: str
    question: str
    answerable: bool | None = None
    history: list[str] = field(default_factory=list)
    expected_quotes: list[str] = field(default_factory=list)
    expected_answer: list[str] = field(default_factory=list)
    expected_paragraphs: list[str] = field(default_factory=list)


@dataclass
class SuppliedAnswer:
    """An answer produced by any system, with the passages its [n] markers refer to."""

    id: str
    question: str
    answer: str
    contexts: list[str]
    answerable: bool | None = None  # None: infer from whether the answer has claims
    expected: Question | None = None


def load_dataset(path: Path) -> list[Question]:
    """Return the questions of a JSONL question set; raise BadRequest naming the first bad line."""
    questions = [_question(row, where) for row, where in _rows(path)]
    _check_unique(questions, path)
    return questions


def load_answers(path: Path) -> list[SuppliedAnswer]:
    """Return the answers of a JSONL answers file; raise BadRequest naming the first bad line."""
    answers = []
    for row, where in _rows(path):
        for key in ("answer",):
            if not isinstance(row.get(key), str):
                raise BadRequest(f"{where}: {key!r} must be a string")
        contexts = row.get("contexts", [])
        if not isinstance(contexts, list) or not all(isinstance(c, str) for c in contexts):
            raise BadRequest(f"{where}: 'contexts' must be a list of strings")
        answerable = row.get("answerable")
        if answerable is not None and not isinstance(answerable, bool):
            raise BadRequest(f"{where}: 'answerable' must be true or false")
        expected = _question({**row, "answerable": row.get("expected_answerable")}, where)
        answers.append(SuppliedAnswer(id=expected.id, question=expected.question, answer=row["answer"],
                                      contexts=contexts, answerable=answerable, expected=expected))
    _check_unique(answers, path)
    return answers


def _rows(path: Path) -> list[tuple[dict, str]]:
    """Return each non-blank line's object with its "file:line" address."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadRequest(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadRequest(f"{path}: cannot be read ({type(exc).__name__})") from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadRequest(f"{where}: invalid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise BadRequest(f"{where}: expected a JSON object")
        rows.append((row, where))
    if not rows:
        raise BadRequest(f"{path}: no lines to evaluate")
    return rows


def _question(row: dict, where: str) -> Question:
    for key in ("id", "question"):
        if not isinstance(row.get(key), str) or not row[key].strip():
            raise BadRequest(f"{where}: {key!r} must be a non-empty string")
    answerable = row.get("answerable")
    if answerable is not None and not isinstance(answerable, bool):
        raise BadRequest(f"{where}: 'answerable' must be true or false")
    lists = {}
    for key in _STRING_LISTS:
        value = row.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise BadRequest(f"{where}: {key!r} must be a list of strings")
        lists[key] = value
    return Question(id=row["id"], question=row["question"], answerable=answerable, **lists)


def _check_unique(rows: list, path: Path) -> None:
    seen: set[str] = set()
    for row in rows:
        if row.id in seen:
            raise BadRequest(f"{path}: id {row.id!r} appears twice")
        seen.add(row.id)
