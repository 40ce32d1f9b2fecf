"""The corpus loader on real files: the title and paragraph numbering rule, metadata, unreadable files."""

from __future__ import annotations

from pathlib import Path

from qa.corpus import article_id_for, load_corpus
from qa.models import Article

TEXT_ARTICLE = """\
Paris summit ends without a deal

5 Mar, 2024 09:15 / Updated 2 hours ago

Leaders met in Paris on Monday
to discuss support for Ukraine.

The talks lasted six hours.

Reactions

Berlin rejected the idea of sending troops.

Washington said it would not send any troops.
"""

MARKDOWN_ARTICLE = """\
---
title: Kallas keeps the option open
outlet: Baltic Wire
date: 2024-02-29
url: https://example.com/kallas
---

Estonian Prime Minister Kaja Kallas spoke in Tallinn.

## What she said

Western leaders should keep every option open, she said.
"""

HTML_ARTICLE = """\
<!doctype html>
<html>
<head>
  <title>Kuleba welcomes the debate | Example Times</title>
  <script>var tracking = "<p>not a paragraph</p>";</script>
</head>
<body>
  <nav><p>Home</p><p>World</p></nav>
  <article>
    <h1>Kuleba welcomes the debate</h1>
    <p>Ukrainian Foreign Minister Dmytro Kuleba spoke on <b>Thursday</b>.</p>
    <script>document.write("<p>injected</p>")</script>
    <h2>Europe's next step</h2>
    <p>He said the debate will help Europe act.</p>
  </article>
  <footer><p>Copyright Example Times</p></footer>
</body>
</html>
"""


def write(path: Path, content: str | bytes) -> Path:
    """Write `content` to `path`, creating its folders, and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def load_one(root: Path) -> Article:
    """Return the only article under `root`, asserting that nothing was skipped."""
    articles, problems = load_corpus(root)
    assert problems == []
    (article,) = articles
    return article


def test_text_article_takes_its_title_from_the_first_line_and_numbers_the_other_blocks(tmp_path: Path) -> None:
    write(tmp_path / "summit.txt", TEXT_ARTICLE)

    article = load_one(tmp_path)

    assert article.id == "summit"
    assert article.source == "summit.txt"
    assert article.title == "Paris summit ends without a deal"
    assert article.paragraphs == (
        "Leaders met in Paris on Monday to discuss support for Ukraine.",
        "The talks lasted six hours.",
        "Berlin rejected the idea of sending troops.",
        "Washington said it would not send any troops.",
    )
    assert article.paragraph(1) == "Leaders met in Paris on Monday to discuss support for Ukraine."


def test_one_line_heading_is_not_numbered_and_becomes_the_section_of_the_paragraphs_after_it(
    tmp_path: Path,
) -> None:
    write(tmp_path / "summit.txt", TEXT_ARTICLE)

    article = load_one(tmp_path)

    assert "Reactions" not in article.paragraphs
    assert article.sections == ("", "", "Reactions", "Reactions")


def test_short_last_line_is_a_paragraph_not_a_heading(tmp_path: Path) -> None:
    write(tmp_path / "brief.txt", "Brief\n\nThe summit ended.\n\nMore soon\n")

    article = load_one(tmp_path)

    assert article.paragraphs == ("The summit ended.", "More soon")


def test_dateline_gives_the_date_and_is_not_numbered(tmp_path: Path) -> None:
    write(tmp_path / "summit.txt", TEXT_ARTICLE)

    article = load_one(tmp_path)

    assert article.date == "2024-03-05"
    assert not any("Updated" in paragraph for paragraph in article.paragraphs)
    assert len(article.paragraphs) == 4


def test_markdown_front_matter_gives_title_outlet_date_and_url(tmp_path: Path) -> None:
    write(tmp_path / "kallas.md", MARKDOWN_ARTICLE)

    article = load_one(tmp_path)

    assert (article.id, article.title, article.outlet, article.date, article.url) == (
        "kallas",
        "Kallas keeps the option open",
        "Baltic Wire",
        "2024-02-29",
        "https://example.com/kallas",
    )
    assert article.paragraphs == (
        "Estonian Prime Minister Kaja Kallas spoke in Tallinn.",
        "Western leaders should keep every option open, she said.",
    )
    assert article.sections == ("", "What she said")


def test_markdown_without_front_matter_takes_its_title_from_the_first_heading(tmp_path: Path) -> None:
    write(tmp_path / "fico.md", "# Fico speaks\n\nSlovak Prime Minister Robert Fico spoke on Monday.\n")

    article = load_one(tmp_path)

    assert article.title == "Fico speaks"
    assert article.paragraphs == ("Slovak Prime Minister Robert Fico spoke on Monday.",)


def test_html_article_keeps_title_paragraphs_and_h2_headings_and_ignores_scripts_and_navigation(
    tmp_path: Path,
) -> None:
    write(tmp_path / "kuleba.html", HTML_ARTICLE)

    article = load_one(tmp_path)

    assert article.title == "Kuleba welcomes the debate"
    assert article.paragraphs == (
        "Ukrainian Foreign Minister Dmytro Kuleba spoke on Thursday.",
        "He said the debate will help Europe act.",
    )
    assert article.sections == ("", "Europe's next step")


def test_each_unreadable_file_is_reported_once_by_name_and_the_rest_still_load(tmp_path: Path) -> None:
    write(tmp_path / "good.txt", "Good article\n\nIt loads.\n")
    write(tmp_path / "latin.txt", "Café crème\n\nÀ Paris.\n".encode("latin-1"))
    write(tmp_path / "nul.txt", b"Title\n\nBody\x00with a NUL byte.\n")
    write(tmp_path / "empty.txt", "")
    write(tmp_path / "scan.pdf", b"%PDF-1.7\n")

    articles, problems = load_corpus(tmp_path)

    assert [a.id for a in articles] == ["good"]
    assert [(p.path, p.reason) for p in problems] == [
        ("empty.txt", "empty file"),
        ("latin.txt", "not UTF-8 text (byte 3)"),
        ("nul.txt", "binary file, not text"),
        ("scan.pdf", "unsupported file type .pdf; expected .txt, .md or .html"),
    ]
    assert str(problems[1]) == "latin.txt: not UTF-8 text (byte 3)"


def test_whitespace_only_file_is_reported_as_empty(tmp_path: Path) -> None:
    write(tmp_path / "blank.txt", "\n   \n\t\n")

    articles, problems = load_corpus(tmp_path)

    assert articles == []
    assert [str(p) for p in problems] == ["blank.txt: empty file"]


def test_article_id_is_the_file_name_and_a_nested_folder_joins_it_with_a_dot(tmp_path: Path) -> None:
    write(tmp_path / "top-story.txt", "Top\n\nA paragraph.\n")
    write(tmp_path / "world" / "summit.txt", "Summit\n\nA paragraph.\n")

    articles, problems = load_corpus(tmp_path)

    assert problems == []
    assert [(a.id, a.source) for a in articles] == [("top-story", "top-story.txt"), ("world.summit", "world/summit.txt")]


def test_article_id_is_slugged_from_folder_and_file_names() -> None:
    assert article_id_for(Path("World News/Macron Speech (Draft).md")) == "world-news.macron-speech-draft"


def test_hidden_files_and_folders_are_not_loaded(tmp_path: Path) -> None:
    write(tmp_path / "kept.txt", "Kept\n\nA paragraph.\n")
    write(tmp_path / ".notes.txt", "Notes\n\nA paragraph.\n")
    write(tmp_path / ".git" / "HEAD.txt", "Head\n\nA paragraph.\n")

    articles, problems = load_corpus(tmp_path)

    assert [a.id for a in articles] == ["kept"]
    assert problems == []


def test_seed_corpus_numbers_18_and_7_paragraphs_with_titles_and_the_dateline_date(seed_corpus: Path) -> None:
    articles, problems = load_corpus(seed_corpus)

    assert problems == []
    by_id = {a.id: a for a in articles}
    assert sorted(by_id) == ["macron-troops-remark-irks-us", "us-angry-with-macron"]
    troops, angry = by_id["macron-troops-remark-irks-us"], by_id["us-angry-with-macron"]
    assert len(troops.paragraphs) == 18
    assert len(angry.paragraphs) == 7
    assert troops.title == (
        "Macron's remark on deployment of foreign troops in Ukraine irks U.S. officials, reports Bloomberg. "
        "US State Department reacts"
    )
    assert angry.title == "US angry with Macron – Bloomberg"
    assert angry.date == "2024-03-27"
    assert troops.date == ""
    assert troops.paragraph(6).startswith("State Department spokesman Matthew Miller responded")
    assert troops.sections[5] == "State Department reaction"
    assert troops.sections[8] == "Background"
    assert angry.paragraph(1).startswith("The French president has forced NATO members")


def test_a_symbolic_link_leading_out_of_the_corpus_folder_is_not_followed(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write(corpus / "kept.txt", "Kept\n\nA paragraph.\n")
    write(tmp_path / "private" / "secret.txt", "Secret\n\nNot for the archive.\n")
    (corpus / "passwd-link.txt").symlink_to("/etc/passwd")
    (corpus / "secret-link.txt").symlink_to(tmp_path / "private" / "secret.txt")
    (corpus / "private-folder").symlink_to(tmp_path / "private", target_is_directory=True)
    (corpus / "broken.txt").symlink_to(tmp_path / "nowhere.txt")

    articles, problems = load_corpus(corpus)

    assert [a.id for a in articles] == ["kept"]
    assert [str(p) for p in problems] == [
        f"broken.txt: broken symbolic link to {tmp_path.resolve() / 'nowhere.txt'}",
        "passwd-link.txt: symbolic link to /etc/passwd, outside the corpus folder; not followed",
        f"private-folder: symbolic link to {tmp_path.resolve() / 'private'}, outside the corpus folder; not followed",
        f"secret-link.txt: symbolic link to {tmp_path.resolve() / 'private' / 'secret.txt'}, outside the corpus "
        "folder; not followed",
    ]


def test_a_symbolic_link_inside_the_corpus_folder_is_read_once(tmp_path: Path) -> None:
    write(tmp_path / "story.txt", "Story\n\nA paragraph.\n")
    (tmp_path / "alias.txt").symlink_to(tmp_path / "story.txt")

    articles, problems = load_corpus(tmp_path)

    assert [a.id for a in articles] == ["alias"]  # sorted first; the file itself is its twin
    assert [str(p) for p in problems] == ["story.txt: the same article as alias.txt; stored once, as 'alias'"]


def test_a_file_over_the_size_limit_is_skipped_and_the_rest_load(tmp_path: Path) -> None:
    write(tmp_path / "huge.txt", "Huge\n\n" + "A long paragraph of filler text.\n\n" * 40_000)
    write(tmp_path / "small.txt", "Small\n\nA paragraph.\n")

    articles, problems = load_corpus(tmp_path, max_bytes=1_000_000)

    assert [a.id for a in articles] == ["small"]
    assert [str(p) for p in problems] == ["huge.txt: 1.4 MB is over the 1.0 MB limit per file (QA_MAX_FILE_MB)"]


def test_the_same_article_under_two_file_names_loads_once(tmp_path: Path) -> None:
    write(tmp_path / "a-story.txt", TEXT_ARTICLE)
    write(tmp_path / "copy-of-story.txt", TEXT_ARTICLE)

    articles, problems = load_corpus(tmp_path)

    assert [a.id for a in articles] == ["a-story"]
    assert [str(p) for p in problems] == ["copy-of-story.txt: the same article as a-story.txt; stored once, as 'a-story'"]
