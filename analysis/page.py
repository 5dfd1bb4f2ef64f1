"""The one builder of self-contained HTML pages (sweep reports, study reports): head, shared CSS, and PNG
figures embedded as base64 data URIs, so a page opens from disk with no server and no network."""

from __future__ import annotations

import base64
import html
from pathlib import Path

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1150px; margin: 1.5em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ccc; }
.meta { color: #555; font-size: 0.85em; } .partial { background: #fff3cd; border: 1px solid #e0c36a;
padding: 0.6em 1em; } li.sub { margin-left: 1.5em; list-style: circle; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figure.small { display: inline-block; vertical-align: top; margin: 0.5em; max-width: 540px; }
figure.small img { max-width: 540px; }
figcaption { font-size: 0.9em; color: #444; } table { border-collapse: collapse; font-size: 0.8em; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; white-space: nowrap; }
th { background: #f2f2f2; } .scroll { overflow-x: auto; } table.failed td { text-align: left; }
"""


def figure(path: Path, caption: str, css_class: str = "") -> str:
    """A ``<figure>`` holding the PNG at ``path`` inline (base64) with an escaped caption."""
    data = base64.b64encode(Path(path).read_bytes()).decode()
    attr = f' class="{css_class}"' if css_class else ""
    return (f'<figure{attr}><img src="data:image/png;base64,{data}" alt="{html.escape(Path(path).name)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def page(title: str, body: list[str]) -> str:
    """A whole HTML document: ``title`` (escaped here) in the head, the shared CSS, ``body`` (HTML) in order."""
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
