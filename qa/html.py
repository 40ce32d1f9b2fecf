"""HTML article -> title, metadata and blocks (the article text, without page furniture)."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup

_FURNITURE = ("script", "style", "noscript", "nav", "header", "footer", "aside", "form", "figure", "iframe")


def parse_html(text: str) -> dict:
    """Return title, date, outlet, url and (kind, text) blocks of an html article."""
    soup = BeautifulSoup(text, "html.parser")
    meta = {
        "title": _meta(soup, "og:title") or _text(soup.find("h1")) or _text(soup.find("title")),
        "date": _meta(soup, "article:published_time") or _time(soup),
        "outlet": _meta(soup, "og:site_name"),
        "url": _meta(soup, "og:url") or _canonical(soup),
    }
    for tag in soup(list(_FURNITURE)):
        tag.decompose()
    root = soup.find("article") or soup.find("main") or soup.body or soup
    blocks: list[tuple[str, str]] = []
    for node in root.find_all(["p", "h2", "h3", "h4", "h5", "h6", "li", "blockquote"]):
        if node.name in ("p", "li") and node.find_parent(["blockquote", "li"]):
            continue  # its text is part of the enclosing block
        content = _text(node)
        if not content:
            continue
        blocks.append(("heading" if node.name.startswith("h") else "paragraph", content))
    return meta | {"blocks": blocks}


def _meta(soup: BeautifulSoup, prop: str) -> str:
    tag = soup.find("meta", attrs={"property": prop}) or soup.find("meta", attrs={"name": prop})
    return (tag.get("content") or "").strip() if tag else ""


def _time(soup: BeautifulSoup) -> str:
    tag = soup.find("time")
    return (tag.get("datetime") or _text(tag)) if tag else ""


def _canonical(soup: BeautifulSoup) -> str:
    tag = soup.find("link", rel="canonical")
    return (tag.get("href") or "") if tag else ""


def _text(node) -> str:
    if not node:
        return ""
    text = re.sub(r"\s+", " ", node.get_text(" ")).strip()
    return re.sub(r" ([.,;:!?)\]])", r"\1", text)
