"""The API key: which keys are accepted, and how the key is masked in text from the gateway.

No network and no ``requests`` here, so ``set_api_key`` can check a key cheaply.

Accepted keys (checked when a client is made, and by ``set_api_key``):
    surrounding whitespace is stripped; what is left must be at least :data:`MIN_KEY_CHARS`
    characters of printable ASCII with no spaces. A line break, a tab or another control
    character, a space, or a non-ASCII character (a typographic quote pasted from a document)
    is refused with :class:`InvalidKeyError`, which names the problem and its position but
    never the key: HTTP libraries refuse such header values with errors that quote them.

Masking (:class:`KeyMask`):
    text from the gateway (error bodies, task replies, network error reasons) is masked
    before it reaches a message, a log line or the ledger: the key itself, and each form JSON
    or a URL can give it (``\\u0073`` escapes, ``\\/``, ``%73``, double-encoded ``%2573``, HTML
    character references), in any mix and either hex case, become ``<hidden>``, and so does
    any ``Bearer <token>``. Keys shorter than :data:`MIN_KEY_CHARS` are refused rather than
    masked: masking a short string would cut it out of task ids and URLs, and a short key
    could not be told apart from ordinary text anyway.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from .errors import HIDDEN, InvalidKeyError, MissingKeyError

#: Shortest key accepted (real ToAPIs keys are far longer). See the module docstring.
MIN_KEY_CHARS = 8

#: "Bearer <token>" in any text, plain or URL/JSON-encoded space after the word.
_BEARER = re.compile(r"(?i)\b(bearer)(?:\s|%20|\+|\\u0020)+[^\s\"'<>&,;)}\]]+")


def checked_key(value: Any, source: str) -> str:
    """``value`` stripped, when it is an acceptable key; else :class:`MissingKeyError` or
    :class:`InvalidKeyError` (``source`` says where the key came from, for the message)."""
    verdict = _verdict(value, source)
    del value  # this frame is in the error's traceback: its locals must not hold the key
    if isinstance(verdict, MissingKeyError):
        raise verdict
    return verdict


def _verdict(value: Any, source: str) -> str | MissingKeyError:
    """The stripped key, or the error to raise (built here, raised by the caller, so no frame
    holding the key is ever part of a traceback)."""
    if not isinstance(value, str) or not value.strip():
        return MissingKeyError()
    key = value.strip()
    for index, char in enumerate(key):
        problem = _char_problem(char)
        if problem:
            return InvalidKeyError(problem, index + 1, len(key), source)
    if len(key) < MIN_KEY_CHARS:
        return InvalidKeyError(
            f"is only {len(key)} characters long (real keys are longer; at least {MIN_KEY_CHARS} are needed "
            "so that masking it in the gateway's messages cannot cut up ordinary text)",
            None,
            len(key),
            source,
        )
    return key


def _char_problem(char: str) -> str | None:
    """What is wrong with one character of a key, in words that do not quote the key."""
    code = ord(char)
    if char in "\r\n":
        return "has a line break"
    if char == "\t":
        return "has a tab"
    if code < 0x20 or code == 0x7F:
        return f"has a control character (U+{code:04X})"
    if char == " ":
        return "has a space"
    if code > 0x7E:
        # A pasted typographic quote or dash is the usual culprit: naming it helps, and it is
        # not part of any real key.
        name = unicodedata.name(char, "unnamed character")
        return f"has a non-ASCII character U+{code:04X} ({name})"
    return None


class KeyMask:
    """Masks one key (and every JSON or URL encoding of it) in text; never shows the key itself."""

    __slots__ = ("_pattern",)

    def __init__(self, key: str) -> None:
        self._pattern = re.compile("".join(_char_forms(char) for char in key), re.IGNORECASE)

    def __call__(self, text: str) -> str:
        return _BEARER.sub(rf"\1 {HIDDEN}", self._pattern.sub(HIDDEN, text))

    def json(self, value: Any, depth: int = 0) -> Any:
        """A parsed JSON value with every string (keys included) masked; ValueError past 64 levels."""
        if depth > 64:
            raise ValueError("the JSON is nested more than 64 levels deep")
        if isinstance(value, str):
            return self(value)
        if isinstance(value, list):
            return [self.json(item, depth + 1) for item in value]
        if isinstance(value, dict):
            return {self(str(k)): self.json(v, depth + 1) for k, v in value.items()}
        return value

    def __repr__(self) -> str:
        return "<key mask: hidden>"

    def __reduce__(self) -> Any:
        raise TypeError("the key mask cannot be pickled")


def _char_forms(char: str) -> str:
    """A regex matching ``char`` as written plainly, JSON-escaped, URL-encoded or as an HTML reference."""
    code = ord(char)
    forms = {
        re.escape(char),
        re.escape(f"\\u{code:04x}"),
        f"%{code:02x}",
        f"%25{code:02x}",
        re.escape(f"\\u0025{code:02x}"),
        f"&#0*{code};",
        f"&#x0*{code:x};",
    }
    if char in '"\\/':
        forms.add(re.escape("\\" + char))  # JSON's short escapes
    return "(?:" + "|".join(sorted(forms)) + ")"
