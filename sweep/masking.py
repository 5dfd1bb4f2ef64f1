"""Passwords out of everything phasescape shows or writes: ``hide_password`` is the one helper for that.

A study's storage URL may carry a database password (``postgresql+psycopg2://user:password@host/db``). Every line
printed or logged, every file written and every job entrypoint passes such a URL (or text that may hold one,
like a database driver's error) through ``hide_password`` first. It masks

- the password of ``scheme://user:password@host`` (as SQLAlchemy's ``URL.render_as_string(hide_password=True)``
  does: ``user:***@host``), also where the URL has no scheme or does not parse, up to the last ``@`` of the word
  (an unencoded ``@`` in a password must not leave its tail behind);
- ``password=VALUE`` (a URL's query, a libpq key=value string, ``PGPASSWORD=...``) and ``'password': VALUE``.

Imports only ``re``: commands that never open a study use it without loading SQLAlchemy.
"""

from __future__ import annotations

import re

MASK = "***"

# user:password@ with an optional scheme; the password runs to the last @ of the word and never starts with /
# (sqlite:////path and journal:///path have none).
_USERINFO = re.compile(r"(?P<head>(?:[A-Za-z][A-Za-z0-9+.\-]*://)?[^\s:/?#@'\"]*:)(?P<secret>[^\s/]\S*)@")
# password=VALUE, PGPASSWORD=VALUE, sslpassword=VALUE, 'password': 'VALUE' (a dict's repr)
_KEYED = re.compile(r"(?i)(?P<head>password(?:\s*=\s*|['\"]\s*:\s*))(?P<secret>'[^']*'|\"[^\"]*\"|[^\s&'\",;]+)")


def hide_password(text: str) -> str:
    """``text`` (a URL, or any line that may hold one) with every password replaced by ``***``."""
    text = _USERINFO.sub(lambda m: f"{m['head']}{MASK}@", text)
    return _KEYED.sub(lambda m: f"{m['head']}{MASK}", text)


def has_password(text: str) -> bool:
    """Whether ``text`` holds a password that ``hide_password`` would mask."""
    return hide_password(text) != text
