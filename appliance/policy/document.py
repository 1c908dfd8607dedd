"""A small document model (headings, paragraphs, lists, tables, page breaks) and its two
renderings: Markdown (what is published, hashed and compared) and a printable HTML page.

The texts are built once as blocks, so the Markdown and the HTML always say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

__all__ = [
    "PRINT_CSS",
    "Block",
    "Document",
    "Heading",
    "Items",
    "PageBreak",
    "Para",
    "Table",
    "to_html",
    "to_html_body",
    "to_markdown",
]


@dataclass(frozen=True)
class Heading:
    level: int  # 1..3
    text: str


@dataclass(frozen=True)
class Para:
    text: str
    big: bool = False  # a sign's headline


@dataclass(frozen=True)
class Items:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class PageBreak:
    """A new printed page (one sign per page)."""


Block = Heading | Para | Items | Table | PageBreak


@dataclass(frozen=True)
class Document:
    title: str
    lang: str
    blocks: tuple[Block, ...] = field(default_factory=tuple)
    page: str = "A4"  # the printed page size


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(doc: Document) -> str:
    """The document as Markdown (a page break is a horizontal rule)."""
    out: list[str] = []
    for block in doc.blocks:
        if isinstance(block, Heading):
            out.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Para):
            out.append(f"**{block.text}**" if block.big else block.text)
        elif isinstance(block, Items):
            out.append("\n".join(f"- {item}" for item in block.items))
        elif isinstance(block, Table):
            lines = [
                "| " + " | ".join(_cell(h) for h in block.header) + " |",
                "|" + "---|" * len(block.header),
            ]
            lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in block.rows]
            out.append("\n".join(lines))
        else:
            out.append("---")
    return "\n\n".join(out) + "\n"


# A4 pages, black on white, the sign's headline large enough to read from a few metres.
PRINT_CSS = """\
@page { size: A4; margin: 18mm 16mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK KR", "Noto Sans KR", "Malgun Gothic", sans-serif;
  color: #000; background: #fff; margin: 0; font-size: 11pt; line-height: 1.5; }
main { max-width: 180mm; margin: 0 auto; padding: 8mm 0; }
h1 { font-size: 18pt; margin: 0 0 6mm; }
h2 { font-size: 13pt; margin: 6mm 0 2mm; border-bottom: 1px solid #000; }
h3 { font-size: 11.5pt; margin: 4mm 0 1mm; }
table { border-collapse: collapse; width: 100%; margin: 2mm 0 4mm; break-inside: auto; }
th, td { border: 1px solid #000; padding: 1.2mm 2mm; text-align: left; vertical-align: top; }
th { background: #eee; }
tr { break-inside: avoid; }
ul { margin: 1mm 0 3mm; padding-left: 6mm; }
p.big { font-size: 26pt; font-weight: bold; margin: 10mm 0 8mm; text-align: center; }
section.page { break-after: page; }
section.page:last-child { break-after: auto; }
@media screen { body { background: #ddd; } section.page { background: #fff;
  margin: 6mm auto; padding: 10mm; max-width: 210mm; } }
"""


def _block_html(block: Block) -> str:
    if isinstance(block, Heading):
        return f"<h{block.level}>{escape(block.text)}</h{block.level}>"
    if isinstance(block, Para):
        return (
            f'<p class="big">{escape(block.text)}</p>'
            if block.big
            else f"<p>{escape(block.text)}</p>"
        )
    if isinstance(block, Items):
        return "<ul>" + "".join(f"<li>{escape(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Table):
        head = "".join(f'<th scope="col">{escape(h)}</th>' for h in block.header)
        rows = "".join(
            "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in block.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    raise AssertionError("page breaks split sections")  # pragma: no cover


def to_html_body(doc: Document) -> str:
    """The document's pages as ``<section class="page">`` elements (for a page or a file)."""
    pages: list[list[str]] = [[]]
    for block in doc.blocks:
        if isinstance(block, PageBreak):
            pages.append([])
        else:
            pages[-1].append(_block_html(block))
    return "\n".join(f'<section class="page">{"".join(p)}</section>' for p in pages if p)


def to_html(doc: Document, *, stylesheet: str | None = None) -> str:
    """A printable standalone HTML page: the CSS inline, or linked when ``stylesheet`` is given
    (the web server's pages allow no inline style)."""
    style = (
        f'<link rel="stylesheet" href="{escape(stylesheet)}">'
        if stylesheet
        else f"<style>{PRINT_CSS}</style>"
    )
    return (
        f'<!doctype html>\n<html lang="{escape(doc.lang)}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(doc.title)}</title>\n{style}\n</head>\n<body>\n<main>\n"
        f"{to_html_body(doc)}\n</main>\n</body>\n</html>\n"
    )
