"""``.env`` reading: cmnb's own small parser agrees with python-dotenv on what it reads.

cmnb keeps python-dotenv out of its runtime dependencies and reads ``.env`` with
:func:`cmnb.api._settings.read_dotenv`, a port of python-dotenv's grammar. These tests feed the
same files to both and compare everything they read, so a user whose other tools load the same
``.env`` with python-dotenv gets the same key and base URL in cmnb.

Deliberate differences, left out of the comparison:

- no ``${VAR}`` expansion (python-dotenv's ``interpolate=True`` default): cmnb reads a key or a
  URL literally and never composes one value from others, so the comparison uses
  ``interpolate=False``;
- a bare ``KEY`` line (no ``=``): python-dotenv gives ``None``, cmnb leaves the key out (and a
  bare line after ``KEY=x`` unsets it, as ``None`` does there): both mean "not set";
- a line neither can read (an unclosed quote, text after a closing quote) is skipped by both,
  but python-dotenv also logs a warning; cmnb says nothing (with no key it says it is using the
  sandbox, which is the visible consequence);
- a file that is not UTF-8 or cannot be read is a :class:`~cmnb.errors.ConfigError`.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cmnb.api._settings import API_KEY_ENV, BASE_URL_ENV, read_dotenv, read_setting

dotenv = pytest.importorskip("dotenv", reason="python-dotenv (the test extra) is not installed")

if dotenv.dotenv_values(stream=io.StringIO("K= # comment\n")).get("K") != "":
    pytest.skip(
        "this python-dotenv predates its fix of `KEY= # comment` (python-dotenv#600) and reads "
        "the comment as the value, which cmnb deliberately does not: install python-dotenv>=1.2.4",
        allow_module_level=True,
    )


@pytest.fixture(autouse=True)
def _quiet_dotenv(caplog: pytest.LogCaptureFixture) -> None:
    """python-dotenv warns about the lines it skips; these tests write such lines on purpose."""
    caplog.set_level(logging.ERROR, logger="dotenv.main")


def both(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """``(cmnb's reading, python-dotenv's reading)`` of a ``.env`` file holding ``text``."""
    path = Path(".env")
    path.write_text(text, encoding="utf-8", newline="")  # keep \r\n and \r as written
    theirs = dotenv.dotenv_values(path, interpolate=False)
    return read_dotenv(path), {key: value for key, value in theirs.items() if value is not None}


KEY = "cmnb_canary_9f2c7e41d0b84a6f"

# (file text, what CHARTMOGUL_API_KEY reads as: None for not set)
CASES = {
    "plain": (f"{API_KEY_ENV}={KEY}\n", KEY),
    "export": (f"export {API_KEY_ENV}={KEY}\n", KEY),
    "export and tab": (f"export\t{API_KEY_ENV}={KEY}\n", KEY),
    "double quotes": (f'{API_KEY_ENV}="{KEY}"\n', KEY),
    "single quotes": (f"{API_KEY_ENV}='{KEY}'\n", KEY),
    "spaces and comment": (f"  {API_KEY_ENV} = {KEY}  # mine\n", KEY),
    "comment after quotes": (f'{API_KEY_ENV}="{KEY}" # mine\n', KEY),
    "comment right after quotes": (f'{API_KEY_ENV}="{KEY}"# mine\n', KEY),
    "hash without a space is text": (f"{API_KEY_ENV}={KEY}#2\n", f"{KEY}#2"),
    "value starting with a hash": (f"{API_KEY_ENV}=#{KEY}\n", f"#{KEY}"),
    "only a comment": (f"{API_KEY_ENV}= # set me\n", ""),
    "empty": (f"{API_KEY_ENV}=\n", ""),
    "hash inside quotes": (f'{API_KEY_ENV}="{KEY} # not a comment"\n', f"{KEY} # not a comment"),
    "equals signs in the value": (f"{API_KEY_ENV}=a=b==\n", "a=b=="),
    "unicode": (f"{API_KEY_ENV}=clé-日本-🔑\n", "clé-日本-🔑"),
    "crlf": (f"# keys\r\n\r\nOTHER=1\r\n{API_KEY_ENV}={KEY}\r\n", KEY),
    "old mac line ends": (f"OTHER=1\r{API_KEY_ENV}={KEY}\r", KEY),
    "byte-order mark": (f"\ufeff{API_KEY_ENV}={KEY}\n", KEY),
    "blank lines and comments": (f"\n\n# {API_KEY_ENV}=no\n   \n{API_KEY_ENV}={KEY}\n\n", KEY),
    "escapes in double quotes": (f'{API_KEY_ENV}="a\\"b\\\\c\\td"\n', 'a"b\\c\td'),
    "escapes in single quotes": (f"{API_KEY_ENV}='a\\'b\\\\c\\td'\n", "a'b\\c\\td"),
    "no escapes unquoted": (f"{API_KEY_ENV}=a\\nb\n", "a\\nb"),
    "no expansion": (f"OTHER=x\n{API_KEY_ENV}=${{OTHER}}y\n", "${OTHER}y"),
    "the last one wins": (f"{API_KEY_ENV}=first\n{API_KEY_ENV}={KEY}\n", KEY),
    "a bare key unsets": (f"{API_KEY_ENV}={KEY}\n{API_KEY_ENV}\n", None),
    "unclosed quote is skipped": (f'{API_KEY_ENV}="{KEY}\nOTHER=1\n', None),
    "text after the quotes is skipped": (f'{API_KEY_ENV}="{KEY}"x\n', None),
    "a quote spanning lines": (f'NOTE="two\n{API_KEY_ENV}=hidden"\n{API_KEY_ENV}={KEY}\n', KEY),
    "quotes spanning lines hide a key": (f'NOTE="a\n{API_KEY_ENV}={KEY}\nb"\n', None),
    "junk lines around": (f"no equals sign\n: yaml\n{API_KEY_ENV}={KEY}\n=x\n", KEY),
    "quoted key": (f"'{API_KEY_ENV}'={KEY}\n", KEY),
    "unclosed quoted key": (f"'{API_KEY_ENV}={KEY}\n", None),
    "export with nothing after": (f"export ={KEY}\n{API_KEY_ENV}={KEY}\n", KEY),
}


@pytest.mark.parametrize("text, expected", CASES.values(), ids=CASES.keys())
def test_cmnb_and_python_dotenv_read_the_same(text: str, expected: str | None) -> None:
    ours, theirs = both(text)
    assert ours == theirs
    assert ours.get(API_KEY_ENV) == expected


def test_the_base_url_and_the_key_come_through_read_setting() -> None:
    both(f'export {BASE_URL_ENV}="http://127.0.0.1:8765/v1"  # a cmnb sandbox\r\n{API_KEY_ENV}= \n')
    assert read_setting(BASE_URL_ENV) == "http://127.0.0.1:8765/v1"
    assert read_setting(API_KEY_ENV) is None  # blank counts as unset


_LINE_PARTS = {
    "start": st.sampled_from(["", "  ", "\t", "export ", "export\t", "#", "'", "export  "]),
    "key": st.sampled_from([API_KEY_ENV, BASE_URL_ENV, "OTHER", f"{API_KEY_ENV}'", "", "x y"]),
    "equals": st.sampled_from(["=", " = ", "= ", " =", "=\t", "", "=="]),
    "value": st.lists(
        st.sampled_from([*"ab=#$\"'\\ \t{}é日", "\n", "\r\n", "\r", "${OTHER}", "\\n"]),
        max_size=12,
    ).map("".join),
    "end": st.sampled_from(["\n", "\r\n", "\r", "", " # c\n", "\t#c\n", '"\n', "'\n"]),
}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.fixed_dictionaries(_LINE_PARTS), max_size=6))
def test_any_file_reads_the_same(lines: list[dict[str, str]]) -> None:
    text = "".join("".join(line[part] for part in _LINE_PARTS) for line in lines)
    ours, theirs = both(text)
    assert ours == theirs
