"""The one builder of self-contained HTML pages (sweep reports, study reports): head, shared CSS, and PNG
figures embedded as base64 data URIs, so a page opens from disk with no server and no network."""

from __future__ import annotations

import base64
import html
import os
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
.live { background: #e8f1fb; border: 1px solid #8fb3dc; padding: 0.6em 1em; } .live progress { width: 100%; }
"""


def figure(path: Path, caption: str, css_class: str = "") -> str:
    """A ``<figure>`` holding the PNG at ``path`` inline (base64) with an escaped caption."""
    data = base64.b64encode(Path(path).read_bytes()).decode()
    attr = f' class="{css_class}"' if css_class else ""
    return (f'<figure{attr}><img src="data:image/png;base64,{data}" alt="{html.escape(Path(path).name)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def page(title: str, body: list[str], refresh_s: int = 0) -> str:
    """A whole HTML document: ``title`` (escaped here) in the head, the shared CSS, ``body`` (HTML) in order;
    ``refresh_s`` > 0 makes the browser reload it that often (a live report)."""
    refresh = f'<meta http-equiv="refresh" content="{int(refresh_s)}">' if refresh_s > 0 else ""
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">{refresh}<title>{html.escape(title)}'
            f"</title><style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def write_page(path: Path, text: str) -> Path:
    """Write a page atomically (a temporary file, then a rename): a browser reloading a live report never reads
    half of one. Returns ``path``."""
    tmp = Path(path).with_name(f".{Path(path).name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return Path(path)
