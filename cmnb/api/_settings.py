"""Where the API key, the base URL and the timeouts come from, checked before any request.

Each setting is looked up in order: the argument → the environment (``CHARTMOGUL_API_KEY``,
``CHARTMOGUL_BASE_URL``) → a ``.env`` file in the current working directory → the default.
The key is wrapped in a :class:`~cmnb.secret.Secret` as soon as it is read.
"""

from __future__ import annotations

import ipaddress
import os
import re
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
    "resolve_api_key",
    "resolve_base_url",
]

API_KEY_ENV = "CHARTMOGUL_API_KEY"
BASE_URL_ENV = "CHARTMOGUL_BASE_URL"
DEFAULT_BASE_URL = "https://api.chartmogul.com/v1"


def read_dotenv(path: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Parse a ``.env`` file (default: ``./.env``) into a dict; a missing file gives ``{}``.

    Understands ``KEY=value``, ``export KEY=value``, single or double quotes (a ``#`` inside
    quotes is kept), a ``# comment`` after a value or a closing quote, blank lines, ``#``
    comment lines and a UTF-8 byte-order mark. It never changes ``os.environ``. Raises
    :class:`ConfigError` when the file exists but cannot be read.
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
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = _EXPORT.sub("", key.strip()).strip()
        values[key] = _dotenv_value(value.strip())
    return values


_EXPORT = re.compile(r"^export\s+")
_COMMENT = re.compile(r"\s#")


def _dotenv_value(value: str) -> str:
    """The value of one ``.env`` line: unquoted, with any trailing ``# comment`` dropped."""
    if value[:1] in ("'", '"'):
        end = value.find(value[0], 1)
        if end > 0 and (not value[end + 1 :].strip() or value[end + 1 :].lstrip()[0] == "#"):
            return value[1:end]
        return value  # an unclosed quote: keep the text as written
    if value.startswith("#"):
        return ""
    comment = _COMMENT.search(value)
    return value[: comment.start()].rstrip() if comment else value


def _lookup(name: str) -> str | None:
    """The environment first, then ``./.env``; blank values count as unset."""
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
    found = _lookup(API_KEY_ENV)
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
    raw = (base_url or "").strip() or _lookup(BASE_URL_ENV) or DEFAULT_BASE_URL
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
