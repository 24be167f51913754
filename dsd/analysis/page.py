"""The pieces of dsd's HTML pages (one self-contained page, images inline); imports no analysis."""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path

import pandas as pd

from dsd.io import check_output_path, write_text_atomic

REPORT_SUFFIXES = (".html", ".htm")

CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ccc;margin-top:2em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f4f4f4}
img{max-width:100%;height:auto}.note{color:#666;font-size:.9em}
"""


def check_report_path(path: str | os.PathLike) -> Path:
    """Validate an HTML page's output path before any work is done."""
    return check_output_path(path, REPORT_SUFFIXES)


def figure_html(fig, alt: str) -> str:
    """An ``<img>`` tag holding ``fig`` (a Figure, or Axes drawn on one) as inline PNG."""
    fig = getattr(fig, "figure", fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def table_html(df: pd.DataFrame, floatfmt: str = "{:.4g}") -> str:
    """A DataFrame as an escaped HTML table."""
    return df.to_html(index=False, escape=True, float_format=floatfmt.format, border=0)


def section(title: str, *parts: str) -> str:
    """An ``<h2>`` section holding ``parts`` (HTML)."""
    return f"<h2>{html.escape(title)}</h2>\n" + "\n".join(parts)


def note(text: str) -> str:
    """A short explanatory paragraph (``text`` is escaped)."""
    return f'<p class="note">{html.escape(text)}</p>'


def page(title: str, parts: list[str]) -> str:
    """A complete HTML document titled ``title`` holding ``parts`` (HTML)."""
    head = f'<meta charset="utf-8"><title>{html.escape(title)}</title><style>{CSS}</style>'
    body = "\n".join([f"<h1>{html.escape(title)}</h1>", *parts])
    return f'<!DOCTYPE html>\n<html lang="en"><head>{head}</head><body>\n{body}\n</body></html>\n'


def write_page(path: str | os.PathLike, text: str) -> Path:
    """Write a page atomically (the path checked first)."""
    return write_text_atomic(check_report_path(path), text)
