"""The sandbox's state and the server's validation rules, behind one lock.

`Store` answers like ChartMogul's server, not like cmnb's client: it refuses only what the real
API refuses (400 missing name, 422 null/blank/non-text name, 422 name taken, 404 unknown uuid)
and ignores extra or empty fields. Every refusal is a :class:`Refusal` carrying the exact
recorded status and body. Names are unique: the check and the insert happen under one lock, so
concurrent creates of one name produce exactly one source.

With ``seed`` the store is deterministic: uuids and ``created_at`` are drawn from the seed and a
fixed clock that advances by a seeded step per new source; :meth:`Store.now` (the server's
``Date`` header) reads that same clock, so ``Date`` and ``created_at`` always agree.
With ``path`` every change is written atomically (temporary file + ``os.replace``) and the state
is loaded back on the next start; a process killed mid-write leaves the last whole state, and
its temporary file is removed then. Memory never runs ahead of the file: a change counts only
once it is written, and a failed write (a full disk, a read-only directory) undoes it in memory
and answers 500 (:data:`WRITE_FAILED`) instead.
"""

from __future__ import annotations

import contextlib
import copy
import glob
import json
import logging
import os
import random
import tempfile
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .statefile import StateFile
from .timestamps import format_timestamp, parse_timestamp

__all__ = ["FLAGS", "Refusal", "Store"]

#: query flag → the block it adds to each object
FLAGS = {
    "with_processing_status": "processing_status",
    "with_auto_churn_subscription_setting": "auto_churn_subscription_setting",
    "with_invoice_handling_setting": "invoice_handling_setting",
}
_BASE_KEYS = ("uuid", "name", "system", "created_at", "status")
_FORMAT = "cmnb-sandbox/1"
# The fixed clock of deterministic mode starts here (any seed), then advances per source.
_EPOCH = datetime(2024, 3, 1, 9, 0, 0, tzinfo=timezone.utc)
_GREGORIAN = datetime(1582, 10, 15, tzinfo=timezone.utc)


class Refusal(Exception):
    """The server's refusal: ``status`` and the exact JSON ``body`` the real API sends."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"HTTP {status}: {json.dumps(body)}")
        self.status = status
        self.body = body


def missing(param: str) -> Refusal:
    return Refusal(400, {"code": 400, "message": f'Parameter "{param}" is missing', "param": param})


NAME_REQUIRED = {"errors": {"name": "A name is required for each data source."}}
NAME_TAKEN = {"errors": {"name": "Has already been taken."}}
NOT_FOUND = {"error": "Data source not found"}
#: The sandbox's own trouble (not a recorded API answer): its state file could not be written,
#: so the change was undone and nothing counts.
WRITE_FAILED = {"error": "The sandbox could not write its state file; nothing was changed."}

logger = logging.getLogger("cmnb.sandbox")


def _default_blocks(system: str) -> dict[str, Any]:
    def rules(when: str) -> dict[str, Any]:
        return {
            "create_subscription_when_invoice_is": when,
            "update_subscription_when_invoice_is": when,
            "prevent_subscription_for_invoice_voided": True,
            "prevent_subscription_for_invoice_refunded": False,
            "prevent_subscription_for_invoice_written_off": True,
        }

    return {
        "processing_status": {"processed": 0, "pending": 0, "failed": 0},
        "auto_churn_subscription_setting": {"enabled": system != "Custom", "interval": None},
        "invoice_handling_setting": {"manual": rules("open"), "automatic": rules("paid")},
    }


class Store:
    """Thread-safe data sources of one sandbox account.

    ``seed`` makes uuids and timestamps reproducible; ``path`` persists the state to a JSON file
    (loaded if it exists, in which case ``sources`` is not applied). Raises ``ValueError`` when
    the file exists but is not a sandbox state file.
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        path: str | os.PathLike[str] | None = None,
        sources: Iterable[Mapping[str, Any]] | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self._seed = seed
        self._path = Path(path) if path is not None else None
        self._file = StateFile(self._path) if self._path is not None else None
        self._initial = [dict(source) for source in (sources or ())]
        self._records: dict[str, dict[str, Any]] = {}
        self._by_name: dict[str, str] = {}
        self._counter = 0
        self._clock = _EPOCH
        if self._file is None:
            self._apply_initial()
            return
        with self._lock, self._file.held():
            if self._file.path.exists():
                self._load(self._file.path)
                self._remove_leftovers()
            else:
                self._apply_initial()

    # -- the API's operations ------------------------------------------------------------

    def create(self, payload: Any) -> dict[str, Any]:
        """POST /data_sources: validate like the server, insert, return the 5-field object."""
        if not isinstance(payload, Mapping) or "name" not in payload:
            raise missing("name")
        name = payload["name"]
        if not isinstance(name, str) or not name.strip():
            raise Refusal(422, NAME_REQUIRED)
        with self._locked(), self._written(answer=True):
            if name in self._by_name:
                raise Refusal(422, NAME_TAKEN)
            record = self._insert(name, system="Custom", status="idle")
        return _render(record, ())

    def query(
        self, *, name: str | None = None, system: str | None = None, flags: Iterable[str] = ()
    ) -> list[dict[str, Any]]:
        """GET /data_sources: exact ``name``, exact case-sensitive ``system``, blocks per flag."""
        wanted = tuple(flags)
        with self._locked():
            return [
                _render(record, wanted)
                for record in self._records.values()
                if (not name or record["name"] == name)
                and (not system or record["system"] == system)
            ]

    def retrieve(self, source_uuid: str, *, flags: Iterable[str] = ()) -> dict[str, Any]:
        """GET /data_sources/{uuid}; raises the 404 :class:`Refusal` when unknown."""
        with self._locked():
            record = self._records.get(source_uuid)
            if record is None:
                raise Refusal(404, NOT_FOUND)
            return _render(record, tuple(flags))

    def delete(self, source_uuid: str) -> None:
        """DELETE /data_sources/{uuid}: gone at once; the 404 :class:`Refusal` when unknown."""
        with self._locked(), self._written(answer=True):
            record = self._records.pop(source_uuid, None)
            if record is None:
                raise Refusal(404, NOT_FOUND)
            del self._by_name[record["name"]]

    # -- direct access for users and tests -----------------------------------------------

    def add_source(self, source: Mapping[str, Any]) -> dict[str, Any]:
        """Insert any source (e.g. ``system="Stripe"``); raises ``ValueError`` on a taken name."""
        name = source.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ValueError("a sandbox source needs a non-blank text name")
        with self._locked(), self._written():
            if name in self._by_name:
                raise ValueError(f"a data source named {name!r} already exists")
            record = self._insert(
                name,
                system=str(source.get("system") or "Custom"),
                status=str(source.get("status") or "idle"),
                given=source,
            )
        return _render(record, tuple(FLAGS))

    def sources(self) -> list[dict[str, Any]]:
        """Every source with all its blocks, in creation order (copies)."""
        return self.query(flags=FLAGS)

    def reset(self) -> None:
        """Back to the initial state: the ``sources`` given at construction, the clock restarted."""
        with self._locked(), self._written():
            self._records, self._by_name = {}, {}
            self._counter = 0
            self._clock = _EPOCH
            self._apply_initial()

    def now(self) -> datetime:
        """The server's clock: the fixed clock with ``seed`` (it stands still between new
        sources), else the real UTC time. ``created_at`` of new sources is read from it."""
        with self._locked():
            return self._clock if self._seed is not None else datetime.now(timezone.utc)

    def __len__(self) -> int:
        with self._locked():
            return len(self._records)

    # -- internals -----------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """This store to oneself: its thread lock and, with ``path``, the state file's lock,
        reloading first what another process wrote since (see :mod:`.statefile`)."""
        with self._lock:
            if self._file is None:
                yield
                return
            with self._file.held():
                if self._file.changed():
                    self._reload()
                yield

    def _reload(self) -> None:
        """Take in what another process wrote. A file that cannot be read now (replaced by a
        folder, half-edited by hand) leaves memory as it is: the next write says the rest."""
        assert self._file is not None
        before = (self._records, self._by_name, self._counter, self._clock)
        self._records, self._by_name, self._counter, self._clock = {}, {}, 0, _EPOCH
        if not self._file.path.exists():  # removed by hand: start again as a new file would
            self._apply_initial()
            self._file.mark()
            return
        try:
            self._load(self._file.path)
        except ValueError as exc:
            self._records, self._by_name, self._counter, self._clock = before
            logger.warning("sandbox state file not reloaded: %s", exc)

    @contextlib.contextmanager
    def _written(self, *, answer: bool = False) -> Iterator[None]:
        """One change of the state, kept only once it is in the file (with ``path``).

        Hold the lock around it. If the block raises, or the write fails, memory is put back as
        it was: the change never counts. A failed write raises the ``OSError``, or with
        ``answer=True`` (an API call) the 500 :class:`Refusal` the server then sends.
        """
        if self._path is None:
            yield
            return
        before = (dict(self._records), dict(self._by_name), self._counter, self._clock)
        try:
            yield
            self._save()
        except BaseException as exc:
            # Only new dicts are made and records are never edited in place: shallow is enough.
            self._records, self._by_name, self._counter, self._clock = before
            if answer and isinstance(exc, OSError):
                logger.warning(
                    "sandbox state file %s not written (%s): change undone", self._path, exc
                )
                raise Refusal(500, WRITE_FAILED) from exc
            raise

    def _apply_initial(self) -> None:
        for source in self._initial:
            name = source.get("name")
            if not isinstance(name, str) or not name.strip() or name in self._by_name:
                raise ValueError(f"bad or repeated sandbox source name: {name!r}")
            self._insert(
                name,
                system=str(source.get("system") or "Custom"),
                status=str(source.get("status") or "idle"),
                given=source,
            )

    def _insert(
        self, name: str, *, system: str, status: str, given: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        given = given or {}
        rng = self._rng()
        created = parse_timestamp(given.get("created_at")) or self._tick(rng)
        source_uuid = str(given.get("uuid") or "") or self._new_uuid(created, rng)
        if source_uuid in self._records:
            raise ValueError(f"uuid {source_uuid} is already used")
        record: dict[str, Any] = {
            "uuid": source_uuid,
            "name": name,
            "system": system,
            "created_at": format_timestamp(created),
            "status": status,
        }
        for key, block in _default_blocks(system).items():
            record[key] = copy.deepcopy(given.get(key, block))
        self._records[source_uuid] = record
        self._by_name[name] = source_uuid
        self._counter += 1
        return record

    def _rng(self) -> random.Random:
        if self._seed is None:
            return random.SystemRandom()
        return random.Random(f"cmnb-sandbox:{self._seed}:{self._counter}")

    def _tick(self, rng: random.Random) -> datetime:
        if self._seed is None:
            return datetime.now(timezone.utc)
        self._clock += timedelta(milliseconds=rng.randrange(500, 3000))
        return self._clock

    def _new_uuid(self, created: datetime, rng: random.Random) -> str:
        # A time-based (v1) UUID like ChartMogul's recent ones, with a random node so no
        # machine address leaks; the 100-ns ticks below one millisecond are random too.
        while True:
            ticks = (created - _GREGORIAN) // timedelta(microseconds=1) * 10 + rng.randrange(10_000)
            clock_seq = rng.getrandbits(14)
            value = uuid.UUID(
                fields=(
                    ticks & 0xFFFFFFFF,
                    (ticks >> 32) & 0xFFFF,
                    ((ticks >> 48) & 0x0FFF) | 0x1000,
                    (clock_seq >> 8) | 0x80,
                    clock_seq & 0xFF,
                    rng.getrandbits(48) | 0x010000000000,
                )
            )
            candidate = f"ds_{value}"
            if candidate not in self._records:
                return candidate

    def _save(self) -> None:
        if self._path is None:
            return
        state = {
            "format": _FORMAT,
            "counter": self._counter,
            "clock": format_timestamp(self._clock),
            "sources": list(self._records.values()),
        }
        directory = self._path.parent
        directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            prefix=self._temporary_prefix(), suffix=".tmp", dir=directory
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(state, out, ensure_ascii=False, indent=1)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self._path)
            if self._file is not None:
                self._file.mark()
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _temporary_prefix(self) -> str:
        assert self._path is not None
        return f".{self._path.name}-"

    def _remove_leftovers(self) -> None:
        # A process killed while writing leaves its half-written temporary file behind; the
        # state file itself is whole (os.replace is atomic). Only this file's temporaries go.
        assert self._path is not None
        for leftover in self._path.parent.glob(f"{glob.escape(self._temporary_prefix())}*.tmp"):
            leftover.unlink(missing_ok=True)

    def _load(self, path: Path) -> None:
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read the sandbox state file {path}: {exc}") from exc
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise ValueError(f"{path} is not a cmnb sandbox state file")
        for record in state.get("sources", []):
            self._records[record["uuid"]] = dict(record)
            self._by_name[record["name"]] = record["uuid"]
        self._counter = int(state.get("counter", len(self._records)))
        self._clock = parse_timestamp(state.get("clock")) or _EPOCH
        if self._file is not None:
            self._file.mark()


def _render(record: Mapping[str, Any], flags: tuple[str, ...]) -> dict[str, Any]:
    out = {key: record[key] for key in _BASE_KEYS}
    for flag in flags:
        block = FLAGS.get(flag, flag)
        out[block] = copy.deepcopy(record[block])
    return out
