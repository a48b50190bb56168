"""What every ``cmnb`` command shares: where output goes, the exit codes, and the client.

stdout carries results only; everything else (notices, errors, the progress bar, prompts) goes
to stderr, one line per message. The key comes from the environment or ``./.env``, never from
the command line, and nothing here ever prints it. LIVE or sandbox is decided by
:func:`cmnb.connect`, as in a notebook; the CLI only brings its own sandbox (one per run) and
its own words for saying so.
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from typing import TYPE_CHECKING, Any, TextIO

from ..api._secret import Secret
from ..api._settings import BASE_URL_ENV, read_setting
from ..connect import connect
from ..errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    CmnbError,
    ConfigError,
    DuplicateNameError,
    ForbiddenError,
    InputError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
    UnprocessableError,
)
from ..notebook._messages import describe_error
from ._state import shared_state_file

if TYPE_CHECKING:
    from ..api._client import Client
    from ..sandbox import Sandbox

__all__ = [
    "EXIT_AUTH",
    "EXIT_FAILED",
    "EXIT_INPUT",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_SERVER",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "Context",
    "UsageError",
    "exit_code_for",
    "explain",
    "one_line",
]

EXIT_OK = 0
EXIT_FAILED = 1  # declined at a prompt, or an unexpected error (a bug: please report it)
EXIT_USAGE = 2  # bad arguments (argparse uses 2 as well)
EXIT_INPUT = 3  # input or configuration refused: nothing was sent, or the server said 400/422
EXIT_AUTH = 4  # 401 / 403
EXIT_NOT_FOUND = 5  # 404, or the name is already taken
EXIT_UNAVAILABLE = 6  # 429 or no answer in time (TransportError): try again later
EXIT_SERVER = 7  # 5xx, or an answer that is not the API's JSON
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT

#: The CLI's way to reuse an existing source, in :func:`cmnb.messages.describe_error` texts.
REUSE_OPTION = "Pass --ensure"

_NO_KEY_NOTICE = (
    "no API key configured — using the local sandbox kept in {path} (nothing leaves this "
    "machine; every cmnb command without a key shares it; `cmnb sandbox reset` empties it)."
)
_FORCED_NOTICE = (
    "--sandbox — using the embedded sandbox (nothing leaves this machine; it starts empty and "
    "is gone when this command ends)."
)


class UsageError(CmnbError):
    """The arguments do not make sense together (exit code 2)."""


def exit_code_for(error: BaseException | None) -> int:
    """The documented exit code for an error (see the table in the README)."""
    if isinstance(error, UsageError):
        return EXIT_USAGE
    if isinstance(error, (AuthenticationError, ForbiddenError)):
        return EXIT_AUTH
    if isinstance(error, (NotFoundError, DuplicateNameError)):
        return EXIT_NOT_FOUND
    if isinstance(error, (InputError, ConfigError, BadRequestError, UnprocessableError)):
        return EXIT_INPUT
    if isinstance(error, (RateLimitError, TransportError)):
        return EXIT_UNAVAILABLE
    if isinstance(error, ServerError):
        return EXIT_SERVER
    if isinstance(error, APIError):  # another 4xx is a refusal of what we sent; anything else
        return EXIT_INPUT if 400 <= error.status < 500 else EXIT_SERVER  # is the server's doing
    return EXIT_FAILED


def explain(error: BaseException) -> str:
    """:func:`cmnb.messages.describe_error` in the CLI's words ("Pass --ensure")."""
    return describe_error(error, reuse_option=REUSE_OPTION)


def one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped, so it stays one line."""
    return "".join(
        repr(char)[1:-1] if unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp") else char
        for char in text
    )


def isatty(stream: Any) -> bool:
    """True if ``stream`` is an interactive terminal (False for anything without ``isatty``)."""
    check = getattr(stream, "isatty", None)
    return bool(callable(check) and check())


class Context:
    """One command run: its arguments, its streams and (on first use) its client.

    The streams are looked up when the context is made, so tests that swap ``sys.stdout``
    see everything. :meth:`close` releases the client and stops an embedded sandbox.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out: TextIO = sys.stdout
        self.err: TextIO = sys.stderr
        self._client: Client | None = None
        self._sandbox: Sandbox | None = None

    def option(self, name: str, default: Any = None) -> Any:
        """A global option, given before or after the command (absent ones are ``default``)."""
        return getattr(self.args, name, default)

    def emit(self, line: str) -> None:
        """One line of output (stdout)."""
        print(line, file=self.out)

    def say(self, message: str) -> None:
        """One line of news or error on stderr, prefixed ``cmnb: ``."""
        print(f"cmnb: {one_line(message)}", file=self.err, flush=True)

    def ask(self, question: str) -> str:
        """Ask ``question`` on stderr and return the answer typed on stdin, stripped ("" at
        end of input). Callers check :func:`isatty` first: a script's stdin is no answer."""
        self.err.write(question)
        self.err.flush()
        try:
            answer = sys.stdin.readline()  # "" at end of input (Ctrl-D)
        except KeyboardInterrupt:
            self.err.write("\n")  # no line end was echoed: "interrupted." gets its own line
            raise
        if not answer.endswith("\n"):
            self.err.write("\n")
        return answer.strip()

    def where(self) -> str:
        """Where this run's client sends: ``LIVE https://…`` or ``the sandbox at http://…``."""
        client = self.client()
        if client.is_loopback:
            return f"the sandbox at {client.base_url}"
        return f"LIVE {client.base_url}"

    def client(self) -> Client:
        """The client for this run (made on first use; see :meth:`_connect`)."""
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _client_options(self) -> dict[str, Any]:
        seconds = self.option("timeout")
        if seconds is None:
            return {}
        return {"deadline_s": seconds, "timeout": (min(5.0, seconds), min(30.0, seconds))}

    def api_key(self) -> Secret | None:
        """The key in the variable ``--api-key-env NAME`` names (environment, then ``./.env``);
        ``None`` without that option (:func:`cmnb.connect` then reads CHARTMOGUL_API_KEY).

        Raises :class:`ConfigError` when the variable it names is not set.
        """
        name = self.option("api_key_env")
        if name is None:
            return None
        value = read_setting(name)
        if value is None:
            raise ConfigError(f"--api-key-env {name}: no such environment variable (or empty).")
        return Secret(value)

    def base_url(self) -> str | None:
        """``--base-url``, else CHARTMOGUL_BASE_URL (environment or ``./.env``), else ``None``."""
        given = self.option("base_url")
        return str(given) if given is not None else read_setting(BASE_URL_ENV)

    def _connect(self) -> Client:
        """:func:`cmnb.connect` with this run's options: ``--sandbox`` or no key → a throwaway
        sandbox (said on stderr); else the key's client."""
        options = self._client_options()
        if self.option("sandbox", False):
            if self.option("base_url") is not None:
                raise UsageError("--sandbox and --base-url cannot be used together.")
            return connect(sandbox=True, start_sandbox=self._start_sandbox, **options)
        # CHARTMOGUL_BASE_URL is passed on as if given with --base-url: to the CLI it names a
        # server, so with no key connect() refuses it instead of quietly using the sandbox.
        return connect(
            self.api_key(),
            base_url=self.base_url(),
            start_sandbox=self._start_sandbox,
            **options,
        )

    def _start_sandbox(self, asked: bool) -> Sandbox:
        """The sandbox for this run: ``--sandbox`` asks for a throwaway one; with no key, the
        one every no-key command shares, kept in the user's data directory (named once)."""
        from ..sandbox import Sandbox

        if asked:
            self._sandbox = Sandbox().start()
            self.say(_FORCED_NOTICE)
            return self._sandbox
        path = shared_state_file()
        try:
            self._sandbox = Sandbox(path=path).start()
        except ValueError as exc:  # the file is not a sandbox state file
            raise ConfigError(f"{exc}. `cmnb sandbox reset` starts it afresh.") from None
        self.say(_NO_KEY_NOTICE.format(path=path))
        return self._sandbox

    def close(self) -> None:
        """Close the client and stop the embedded sandbox, if any."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._sandbox is not None:
            self._sandbox.stop()
            self._sandbox = None
