"""Corpus files -> Articles with numbered paragraphs. Pure apart from reading the files.

Paragraph numbering rule (every citation uses it):
- The title is not a paragraph: the first line of a .txt, `title:` in .md front matter (else its
  first `# ` line, else its first line), the <h1>/<title> of an .html file.
- A dateline before the first paragraph (a line such as "27 Mar, 2024 11:29 / Updated ...") is not
  a paragraph; its date becomes the article's date unless metadata already gives one.
- A one-line section heading (a block of one line, at most 10 words, not ending in sentence
  punctuation, or a markdown `##` line, or an html <h2>-<h6>) is not a paragraph; it is kept as
  the section of the paragraphs that follow it.
- Every other blank-line-separated block is a paragraph, numbered from 1 in reading order, its
  lines joined with single spaces.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import yaml

from qa.errors import CorpusError, UnreadableFile
from qa.models import Article

SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
_DATE_PATTERNS = (
    (re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"), "%Y-%m-%d", "{0}-{1}-{2}"),
    (re.compile(rf"\b(\d{{1,2}}) ((?:{_MONTHS})[a-z]*)\.?,? (\d{{4}})\b", re.I), "%d %b %Y", "{0} {1} {2}"),
    (re.compile(rf"\b((?:{_MONTHS})[a-z]*)\.? (\d{{1,2}}),? (\d{{4}})\b", re.I), "%b %d %Y", "{0} {1} {2}"),
)
_HEADING_END = tuple('.!?:;,"”’\')…')


MAX_FILE_BYTES = 5_000_000  # a long news article is well under 100 kB; QA_MAX_FILE_MB changes it


def load_corpus(root: Path, *, max_bytes: int = MAX_FILE_BYTES) -> tuple[list[Article], list[UnreadableFile]]:
    """Return the readable articles under `root` and one UnreadableFile per file that is not: too big,
    a symbolic link leading out of `root`, or holding the same article as a file read before it."""
    root = Path(root)
    if not root.exists():
        raise CorpusError(f"{root}: no such file or directory")
    base = root.parent if root.is_file() else root
    files = [root] if root.is_file() else sorted(
        p for p in root.rglob("*") if not _hidden(p.relative_to(root)) and (p.is_file() or p.is_symlink())
    )
    articles: dict[str, Article] = {}
    by_content: dict[str, Article] = {}
    problems: list[UnreadableFile] = []
    for path in files:
        rel = path.relative_to(base).as_posix()
        try:
            # a file named on its own was asked for by name, even through a link
            _check_file(path, base=path.resolve().parent if path == root else base, source=rel, max_bytes=max_bytes)
            article = load_article(path, article_id=article_id_for(path.relative_to(base)), source=rel)
        except UnreadableFile as exc:
            problems.append(exc)
            continue
        if article.id in articles:
            other = articles[article.id].source
            problems.append(UnreadableFile(rel, f"article id {article.id!r} is already used by {other}"))
            continue
        twin = by_content.get(article.content_hash)
        if twin is not None:
            problems.append(UnreadableFile(rel, f"the same article as {twin.source}; stored once, as {twin.id!r}"))
            continue
        articles[article.id] = by_content[article.content_hash] = article
    return list(articles.values()), problems


def _check_file(path: Path, *, base: Path, source: str, max_bytes: int) -> None:
    """Raise UnreadableFile for a link that leaves the corpus folder, a link to a folder, or a file
    over `max_bytes`: nothing outside the folder the user named is read, and one huge file never
    holds back the rest."""
    if path.is_symlink():
        target = path.resolve()
        if not target.exists():
            raise UnreadableFile(source, f"broken symbolic link to {target}")
        if not target.is_relative_to(base.resolve()):
            raise UnreadableFile(source, f"symbolic link to {target}, outside the corpus folder; not followed")
        if not target.is_file():
            raise UnreadableFile(source, "symbolic link to a folder; not followed")
    size = path.stat().st_size
    if size > max_bytes:
        raise UnreadableFile(source, f"{_megabytes(size)} is over the {_megabytes(max_bytes)} limit per file "
                                     "(QA_MAX_FILE_MB)")


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size < 10e6 else f"{size / 1e6:.0f} MB"


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def article_id_for(rel_path: Path) -> str:
    """Return the stable article id of a file: its slugged path without suffix, folders joined by '.'."""
    parts = [*rel_path.parent.parts, rel_path.stem] if rel_path.parent != Path(".") else [rel_path.stem]
    slugs = [re.sub(r"[^a-z0-9]+", "-", part.lower()).strip("-") for part in parts]
    return ".".join(s for s in slugs if s) or "article"


def load_article(path: Path, *, article_id: str, source: str) -> Article:
    """Return the Article in one file, or raise UnreadableFile naming the reason."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise UnreadableFile(source, f"unsupported file type {suffix or '(none)'}; expected .txt, .md or .html")
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise UnreadableFile(source, "binary file, not text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(source, f"not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise UnreadableFile(source, "empty file")
    if suffix in (".html", ".htm"):
        from qa.html import parse_html  # bs4 is only needed for html

        fields = parse_html(text)
    elif suffix in (".md", ".markdown"):
        fields = parse_markdown(text, source=source)
    else:
        fields = parse_text(text)
    return build_article(fields, article_id=article_id, source=source)


def build_article(fields: dict, *, article_id: str, source: str) -> Article:
    """Return an Article from parsed fields: title, blocks [(kind, text)], and metadata."""
    paragraphs: list[str] = []
    sections: list[str] = []
    section = ""
    date_found = _iso_date(fields.get("date"))
    for kind, text in fields["blocks"]:
        if kind == "heading":
            section = text
        elif kind == "dateline":
            date_found = date_found or parse_date(text)
        else:
            paragraphs.append(text)
            sections.append(section)
    if not paragraphs:
        raise UnreadableFile(source, "no paragraphs after the title")
    return Article(
        id=article_id,
        title=fields.get("title") or paragraphs[0][:80],
        paragraphs=tuple(paragraphs),
        outlet=str(fields.get("outlet") or ""),
        date=date_found,
        url=str(fields.get("url") or ""),
        source=source,
        sections=tuple(sections),
    )


def parse_text(text: str) -> dict:
    """Return title and classified blocks of a plain-text article (title on the first line)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    title = _clean(lines[0])
    return {"title": title, "blocks": classify_blocks(split_blocks("\n".join(lines[1:])))}


def parse_markdown(text: str, *, source: str) -> dict:
    """Return front-matter metadata and classified blocks of a markdown article."""
    text = text.replace("\r\n", "\n")
    meta: dict = {}
    match = re.match(r"^---\n(.*?)\n---\n?", text, re.S)
    if match:
        try:
            meta = yaml.safe_load(match.group(1)) or {}
        except yaml.YAMLError as exc:
            raise UnreadableFile(source, f"invalid YAML front matter ({exc.__class__.__name__})") from None
        if not isinstance(meta, dict):
            raise UnreadableFile(source, "front matter is not a YAML mapping")
        text = text[match.end():]
    blocks = split_blocks(text)
    title = _clean(str(meta.get("title") or ""))
    if not title and blocks:
        first = re.match(r"^#\s+(.*)$", blocks[0])
        title = _clean(first.group(1) if first else blocks[0])
        blocks = blocks[1:]
    meta.update(title=title, blocks=classify_blocks(blocks))
    return meta


def split_blocks(text: str) -> list[str]:
    """Return the non-empty blank-line-separated blocks of `text`, lines kept."""
    return [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]


def classify_blocks(blocks: list[str]) -> list[tuple[str, str]]:
    """Return (kind, text) for each block: 'dateline', 'heading' (a markdown `#` line, or a short
    unpunctuated line that is not the last block) or 'paragraph'."""
    out: list[tuple[str, str]] = []
    seen_paragraph = False
    for index, block in enumerate(blocks):
        lines = [ln for ln in block.split("\n") if ln.strip()]
        marked = re.match(r"^#{1,6}\s+(.*)$", lines[0])
        if marked and len(lines) == 1:
            out.append(("heading", _clean(marked.group(1))))
            continue
        if not seen_paragraph and is_dateline(lines[0]):
            out.append(("dateline", _clean(lines[0])))
            lines = lines[1:]
            if not lines:
                continue
        text = _clean(" ".join(lines))
        if len(lines) == 1 and index < len(blocks) - 1 and is_heading(text):
            out.append(("heading", text))
            continue
        out.append(("paragraph", text))
        seen_paragraph = True
    return out


def is_dateline(line: str) -> bool:
    """Return True for a short line that is mostly a date (and maybe a time or 'Updated ...')."""
    line = line.strip()
    return len(line) <= 80 and bool(parse_date(line)) and len(re.findall(r"[A-Za-z]{4,}", line)) <= 4


def is_heading(text: str) -> bool:
    """Return True for a short line without sentence punctuation at its end."""
    return len(text.split()) <= 10 and not text.endswith(_HEADING_END)


def parse_date(text: str) -> str:
    """Return the first date written in `text` as yyyy-mm-dd, or ''."""
    for pattern, fmt, template in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            parts = list(match.groups())
            parts = [p[:3] if p.isalpha() else p for p in parts]
            try:
                return datetime.strptime(template.format(*parts), fmt).date().isoformat()
            except ValueError:
                continue
    return ""


def _iso_date(value: object) -> str:
    if isinstance(value, (date, datetime)):
        return value.isoformat()[:10]
    return parse_date(str(value)) if value else ""


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
