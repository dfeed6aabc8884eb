"""``report.html``: the comparison's Markdown report as one self-contained page.

The page is built from the report's own Markdown, so the two never say different things; it
needs no network to open (no scripts, no stylesheets fetched, every plot embedded as a base64
PNG). Only the Markdown the report writes is understood: headings, ``>`` lines, ``-`` lists,
tables, images, paragraphs, and ``**bold**`` and ```code``` inside them.
"""

from __future__ import annotations

import base64
import html
import os
import re

STYLE = """body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.25em .6em}
td.num{text-align:right}th{background:#f3f3f3}blockquote{border-left:4px solid #d33;background:#fff4f4;
margin:.4em 0;padding:.4em 1em}img{max-width:100%}figure{margin:1.5em 0}figcaption{color:#555}
code{background:#f3f3f3;padding:0 .2em}"""
_IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<src>[^)]+)\)")


def _inline(text: str) -> str:
    """Escaped text with ``**bold**`` and ```code``` marked up."""
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _table(lines: list[str]) -> str:
    """A Markdown table (header, alignment row, rows) as HTML; right-aligned columns get ``num``."""
    header, align, rows = _cells(lines[0]), _cells(lines[1]), [_cells(x) for x in lines[2:]]
    right = [a.endswith(":") for a in align]
    out = ["<table>", "<thead><tr>" + "".join(f"<th>{_inline(h)}</th>" for h in header) + "</tr></thead>", "<tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(f'<td{" class=num" if i < len(right) and right[i] else ""}>{_inline(c)}</td>'
                                     for i, c in enumerate(row)) + "</tr>")
    return "\n".join([*out, "</tbody>", "</table>"])


def _image(alt: str, src: str, folder: str | None) -> str:
    """The PNG at ``folder/src`` embedded as a data URI (a missing file: the caption says so)."""
    path = os.path.join(folder or ".", src)
    if not os.path.isfile(path):
        return f"<p><em>{_inline(alt)}: plot not found ({_inline(src)})</em></p>"
    with open(path, "rb") as f:
        data = base64.b64encode(f.read()).decode("ascii")
    return (f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_inline(alt)}</figcaption></figure>")


def markdown_to_html(text: str, folder: str | None = None) -> str:
    """The body of a page for the report's Markdown ``text``; images are read from ``folder``.

    Parameters
    ----------
    text : str
        Markdown as :func:`splitters.comparison.report.markdown` writes it.
    folder : str, optional
        Where the linked PNG files are (default: the current folder).

    Returns
    -------
    str
        HTML elements, without ``<html>`` and ``<body>``.

    Examples
    --------
    >>> print(markdown_to_html("> **Warning:** x\\n\\n| a | b |\\n|---|---:|\\n| `m` | 1 |"))
    <blockquote><strong>Warning:</strong> x</blockquote>
    <table>
    <thead><tr><th>a</th><th>b</th></tr></thead>
    <tbody>
    <tr><td><code>m</code></td><td class=num>1</td></tr>
    </tbody>
    </table>
    """
    blocks: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")), 6)
            blocks.append(f"<h{level}>{_inline(line.lstrip('#').strip())}</h{level}>")
            i += 1
        elif line.startswith(">"):
            blocks.append(f"<blockquote>{_inline(line.lstrip('>').strip())}</blockquote>")
            i += 1
        elif line.startswith("|"):
            j = i
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            blocks.append(_table(lines[i:j]))
            i = j
        elif line.startswith("- "):
            j = i
            while j < len(lines) and lines[j].startswith("- "):
                j += 1
            blocks.append("<ul>\n" + "\n".join(f"<li>{_inline(x[2:])}</li>" for x in lines[i:j]) + "\n</ul>")
            i = j
        elif _IMAGE.fullmatch(line.strip()):
            m = _IMAGE.fullmatch(line.strip())
            blocks.append(_image(m["alt"], m["src"], folder))
            i += 1
        else:
            j = i
            while j < len(lines) and lines[j].strip() and not lines[j].startswith(("#", ">", "|", "- ", "![")):
                j += 1
            blocks.append(f"<p>{_inline(' '.join(lines[i:j]))}</p>")
            i = j
    return "\n".join(blocks)


def report_html(text: str, title: str, folder: str | None = None) -> str:
    """A whole self-contained page for the report's Markdown ``text``, titled ``title``.

    Parameters
    ----------
    text : str
        The report's Markdown.
    title : str
        What the comparison was about (:func:`splitters.comparison.report.title`).
    folder : str, optional
        Where the linked plots are.

    Returns
    -------
    str

    Examples
    --------
    >>> page = report_html("Metric: `accuracy`.", "mnist, shift rotate:30")
    >>> "<title>Comparison of validation splits: mnist, shift rotate:30</title>" in page, "http" in page
    (True, False)
    """
    name = f"Comparison of validation splits: {title}"
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(name)}</title>\n'
            f"<style>{STYLE}</style>\n</head>\n<body>\n<h1>{html.escape(name)}</h1>\n"
            f"{markdown_to_html(text, folder)}\n</body>\n</html>\n")
