"""Where the API key, the base URL and the timeouts come from, checked before any request.

Each setting is looked up in order: the argument → the environment (``CHARTMOGUL_API_KEY``,
``CHARTMOGUL_BASE_URL``) → a ``.env`` file in the current working directory → the default.
The key is wrapped in a :class:`~cmnb.secret.Secret` as soon as it is read.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ..errors import ConfigError
from ._secret import Secret

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "is_loopback_host",
    "missing_key_error",
    "normalize_timeout",
    "read_dotenv",
    "read_setting",
    "resolve_api_key",
    "resolve_base_url",
]

API_KEY_ENV = "CHARTMOGUL_API_KEY"
BASE_URL_ENV = "CHARTMOGUL_BASE_URL"
DEFAULT_BASE_URL = "https://api.chartmogul.com/v1"


def read_dotenv(path: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Parse a ``.env`` file (default: ``./.env``) into a dict; a missing file gives ``{}``.

    The grammar is python-dotenv's (``tests/test_dotenv.py`` holds the two together):
    ``KEY=value``, ``export KEY=value``, single or double quotes (which may span lines; a
    ``#`` inside them is kept; ``\\n``-style escapes are decoded in double quotes, ``\\'`` and
    ``\\\\`` in single ones), a `` # comment`` after a value or a closing quote, blank lines,
    ``#`` comment lines and a UTF-8 byte-order mark. A line it cannot read (an unclosed quote,
    text after the closing quote) is skipped; ``${VAR}`` is not expanded. A bare ``KEY``
    unsets an earlier value. It never changes ``os.environ``. Raises :class:`ConfigError` when
    the file exists but cannot be read.
    """
    file = Path(path) if path is not None else Path.cwd() / ".env"
    try:
        # utf-8-sig: editors on Windows start the file with a byte-order mark.
        text = file.read_text(encoding="utf-8-sig")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return {}
    except OSError as exc:
        raise ConfigError(f"Could not read {file}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"Could not read {file}: it is not UTF-8 text.") from None
    values: dict[str, str] = {}
    for key, value in _bindings(text):
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
    return values


# python-dotenv's grammar (its parser.py), step by step as it reads it. A binding it cannot read
# is skipped up to the end of the line where reading failed: that may be lines below its start
# when a quote opened there closes further down.
_BLANKS = re.compile(r"[^\S\r\n]*")  # within one line
_LEADING = re.compile(r"\s*")  # blank lines and indentation
_EXPORT = re.compile(r"(?:export[^\S\r\n]+)?")
_KEY = re.compile(r"([^=\#\s]+)")
_QUOTED_KEY = re.compile(r"'([^']+)'")
_EQUALS = re.compile(r"=[^\S\r\n]*")
_DOUBLE_QUOTED = re.compile(r'"((?:\\.|[^"\\])*)"', re.DOTALL)
_SINGLE_QUOTED = re.compile(r"'((?:\\.|[^'\\])*)'", re.DOTALL)
_UNQUOTED = re.compile(r"[^\r\n]*")
_LINE_END = re.compile(r"(?:[^\S\r\n]*#[^\r\n]*)?[^\S\r\n]*(?:\r\n|\n|\r|$)")
_REST_OF_LINE = re.compile(r"[^\r\n]*(?:\r|\n|\r\n)?")
_INLINE_COMMENT = re.compile(r"\s+#.*")
_DOUBLE_QUOTED_ESCAPE = re.compile(r"\\([\\'\"abfnrtv])")
_SINGLE_QUOTED_ESCAPE = re.compile(r"\\([\\'])")
_ESCAPED = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


class _Unreadable(Exception):
    """A binding python-dotenv would skip; ``at`` is where reading it failed."""

    def __init__(self, at: int) -> None:
        super().__init__(at)
        self.at = at


def _take(pattern: re.Pattern[str], text: str, at: int) -> re.Match[str]:
    found = pattern.match(text, at)
    if found is None:
        raise _Unreadable(at)
    return found


def _bindings(text: str) -> Iterator[tuple[str, str | None]]:
    """``(key, value)`` for each binding of a ``.env`` text; ``None`` for a bare ``KEY``."""
    at = 0
    while True:
        at = _take(_LEADING, text, at).end()
        if at >= len(text):
            return
        try:
            key, value, at = _binding(text, at)
        except _Unreadable as unreadable:
            at = _take(_REST_OF_LINE, text, unreadable.at).end()
            continue
        if key is not None:  # None: a comment line
            yield key, value


def _binding(text: str, at: int) -> tuple[str | None, str | None, int]:
    """The binding at ``at``: ``(key, value, where it ends)``. Raises :class:`_Unreadable`."""
    at = _take(_EXPORT, text, at).end()
    key = None
    if not text.startswith("#", at):
        found = _take(_QUOTED_KEY if text.startswith("'", at) else _KEY, text, at)
        key, at = found[1], found.end()
    at = _take(_BLANKS, text, at).end()
    value = None
    if text.startswith("=", at):
        equals = _take(_EQUALS, text, at)
        at = equals.end()
        if len(equals[0]) > 1 and text.startswith("#", at):
            value = ""  # `KEY= # comment` is empty, but `KEY=#x` is "#x"
        else:
            value, at = _value(text, at)
    return key, value, _take(_LINE_END, text, at).end()


def _value(text: str, at: int) -> tuple[str, int]:
    """The value at ``at``, unquoted and unescaped, and where it ends."""
    if text.startswith('"', at):
        found = _take(_DOUBLE_QUOTED, text, at)
        value = _DOUBLE_QUOTED_ESCAPE.sub(lambda m: _ESCAPED.get(m[1], m[1]), found[1])
    elif text.startswith("'", at):
        found = _take(_SINGLE_QUOTED, text, at)
        value = _SINGLE_QUOTED_ESCAPE.sub(lambda m: m[1], found[1])
    else:
        found = _take(_UNQUOTED, text, at)
        value = _INLINE_COMMENT.sub("", found[0]).rstrip()
    return value, found.end()


def read_setting(name: str) -> str | None:
    """The variable ``name`` from the environment, else from ``./.env``; ``None`` if neither
    has it. Blank values count as unset and surrounding whitespace is dropped. Raises
    :class:`ConfigError` when ``./.env`` exists but cannot be read."""
    value = os.environ.get(name, "").strip()
    if value:
        return value
    value = read_dotenv().get(name, "").strip()
    return value or None


def resolve_api_key(api_key: str | Secret | None = None) -> Secret | None:
    """The API key from the argument, ``CHARTMOGUL_API_KEY``, or ``./.env``; ``None`` if none.

    Surrounding whitespace (a pasted newline) is dropped. Raises :class:`ConfigError` if the
    argument is neither a ``str`` nor a :class:`Secret`.
    """
    if api_key is not None:
        if isinstance(api_key, Secret):
            value = api_key.reveal().strip()
        elif isinstance(api_key, str):
            value = api_key.strip()
        else:
            raise ConfigError(f"api_key must be a str or a Secret, not {type(api_key).__name__}.")
        if value:
            return Secret(value)
    found = read_setting(API_KEY_ENV)
    return Secret(found) if found else None


def missing_key_error() -> ConfigError:
    """The :class:`ConfigError` raised when no key is configured, saying how to set one."""
    return ConfigError(
        "No ChartMogul API key found. Set one of: "
        f"cmnb.Client(api_key=...); the {API_KEY_ENV} environment variable "
        f"(export {API_KEY_ENV}=...); or a line {API_KEY_ENV}=... in a .env file in the "
        f"working directory ({Path.cwd()}). The key is in ChartMogul under Profile → API keys. "
        "To try cmnb without an account, use cmnb.connect() (the embedded sandbox)."
    )


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, ``127.0.0.0/8`` and ``::1`` (the sandbox's hosts)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_base_url(base_url: str | None = None) -> str:
    """The normalized API base URL, always ending in ``/v1``.

    From the argument, ``CHARTMOGUL_BASE_URL``, ``./.env``, or ``https://api.chartmogul.com/v1``.
    ``https://host``, ``https://host/v1/`` and ``https://host/V1`` all give ``https://host/v1``.
    Raises :class:`ConfigError` for anything but ``https://``, plain ``http://`` to a
    non-loopback host (the key would travel in clear text), a user name/password, a query, a
    fragment, or a path ending in another API version (``/v2``: the API is v1).
    """
    if base_url is not None and not isinstance(base_url, str):
        raise ConfigError(f"base_url must be a str, not {type(base_url).__name__}.")
    raw = (base_url or "").strip() or read_setting(BASE_URL_ENV) or DEFAULT_BASE_URL
    try:
        parts = urlsplit(raw)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ConfigError(f"The base URL {raw!r} is not a valid URL.") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(
            f"The base URL {raw!r} must look like https://api.chartmogul.com/v1 "
            "(http:// is allowed only for localhost)."
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigError("The base URL must not contain a user name or password.")
    if parts.query or parts.fragment:
        raise ConfigError(f"The base URL {raw!r} must not have a query or a fragment.")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise ConfigError(
            f"The base URL {raw!r} uses plain http:// to a remote host, which would send the "
            "API key unencrypted. Use https:// (http:// is allowed only for localhost)."
        )
    path = parts.path.rstrip("/")
    head, _, last = path.rpartition("/")
    if last.lower() == "v1":
        path = head + "/v1"
    elif _VERSION.fullmatch(last):
        raise ConfigError(
            f"The base URL {raw!r} asks for API version {last!r}, but the ChartMogul API "
            "cmnb speaks is v1: end it in /v1 or leave the version off "
            "(e.g. https://api.chartmogul.com)."
        )
    else:
        path += "/v1"
    return urlunsplit((parts.scheme, parts.netloc.lower(), path, "", ""))


# A last path segment that names an API version: v2, V0, v1.1.
_VERSION = re.compile(r"v[0-9]+(?:\.[0-9]+)*", re.IGNORECASE)


def normalize_timeout(timeout: float | tuple[float, float]) -> tuple[float, float]:
    """``(connect_s, read_s)`` from seconds or a pair; raises :class:`ConfigError` if not > 0."""
    pair: tuple[object, ...] = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    if len(pair) != 2 or not all(
        isinstance(part, (int, float)) and not isinstance(part, bool) and part > 0 for part in pair
    ):
        raise ConfigError(
            f"timeout must be a number of seconds > 0 or a (connect, read) pair, not {timeout!r}."
        )
    connect_s, read_s = pair
    assert isinstance(connect_s, (int, float)) and isinstance(read_s, (int, float))
    return float(connect_s), float(read_s)
