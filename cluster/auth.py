"""Where the token for a Ray cluster with token authentication comes from (recent Ray releases; 2.60 here).

The Ray Jobs REST API on the head node checks an ``Authorization: Bearer <token>`` header when the cluster runs
with ``RAY_AUTH_MODE=token``. Ray's own clients look for the token in ``RAY_AUTH_TOKEN``, then in the file named by
``RAY_AUTH_TOKEN_PATH``, then in ``~/.ray/auth_token``; phasescape reads the same places, with ``--token-file`` first.
A token is never taken from the command line (it would show in ``ps`` and in shell history) and never printed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from model.errors import UsageError

DEFAULT_TOKEN_FILE = Path("~/.ray/auth_token")


@dataclass(frozen=True)
class Token:
    value: str
    source: str  # where it came from, safe to print: an option, a variable name or a file path

    def __repr__(self) -> str:  # keep the secret out of tracebacks and logs
        return f"Token(source={self.source!r})"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.value}"}


def _read(path: Path, option: str, source: str) -> Token:
    # Errors name the option, not its value: a token pasted where a path belongs must not be echoed.
    try:
        value = path.expanduser().read_text().strip()
    except OSError as error:
        raise UsageError(f"{option}: cannot read that token file ({error.strerror}); give the path of a file "
                         f"that holds the token") from None
    if not value:
        raise UsageError(f"{option}: the token file is empty; write the cluster's token into it")
    if any(c.isspace() for c in value):
        raise UsageError(f"{option}: the token file holds more than one word; it must hold the token only")
    return Token(value, source)


def find_token(token_file: str | None = None, environ: dict[str, str] | None = None,
               default_file: Path = DEFAULT_TOKEN_FILE) -> Token | None:
    """The token to send, or None when there is none (the cluster then must run without token authentication)."""
    env = os.environ if environ is None else environ
    if token_file:
        return _read(Path(token_file), "--token-file", f"--token-file {token_file}")
    if env.get("RAY_AUTH_TOKEN", "").strip():
        value = env["RAY_AUTH_TOKEN"].strip()
        return Token(value, "RAY_AUTH_TOKEN")
    if env.get("RAY_AUTH_TOKEN_PATH"):
        path = env["RAY_AUTH_TOKEN_PATH"]
        return _read(Path(path), "RAY_AUTH_TOKEN_PATH", f"RAY_AUTH_TOKEN_PATH={path}")
    if default_file.expanduser().is_file():
        return _read(default_file, str(default_file), str(default_file))
    return None


def redact(text: str, token: Token | None) -> str:
    """``text`` with every occurrence of the token replaced, for anything that may be printed."""
    return text.replace(token.value, "<token>") if token and token.value else text
