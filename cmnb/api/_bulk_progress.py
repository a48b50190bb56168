"""What ``create_many(progress=...)`` accepts, turned into one progress hook.

Accepted: ``None``; a callable ``progress(done, total, outcome)``; a bar that also has
``start(total)`` and ``finish(result)`` (cmnb's own bars); a tqdm class such as
``tqdm.auto.tqdm`` (made with ``total=`` and ``desc=`` when the run starts); a tqdm-like
instance (``update(n)`` and ``close()``); and ``"auto"``, which asks the display layer for
cmnb's own bar (a widget in a notebook, a text bar on a terminal). That last one is a display
hook: the display layer is imported only then, so the client alone never loads ipywidgets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast, runtime_checkable

from ..errors import InputError

if TYPE_CHECKING:
    from ._bulk_result import BulkOutcome, BulkResult

__all__ = ["ProgressArg", "ProgressCallback", "ProgressHook", "TqdmLike", "progress_hook"]

ProgressCallback = Callable[[int, int, "BulkOutcome"], None]


@runtime_checkable
class ProgressHook(Protocol):
    """A progress callback with a beginning and an end: told the total, each outcome, the result."""

    def start(self, total: int) -> None: ...

    def __call__(self, done: int, total: int, outcome: BulkOutcome) -> None: ...

    def finish(self, result: BulkResult) -> None: ...


class TqdmLike(Protocol):
    """The part of a tqdm bar that create_many drives."""

    def update(self, n: int = 1) -> Any: ...

    def close(self) -> Any: ...


#: Everything ``progress=`` accepts (see the module docstring).
ProgressArg = ProgressCallback | ProgressHook | TqdmLike | type[Any] | Literal["auto"] | None


def progress_hook(progress: object) -> ProgressCallback | None:
    """The callback a run calls for ``progress`` (a :class:`ProgressHook` when it has a start
    and an end), or ``None``. Raises :class:`InputError` for anything it does not accept."""
    if progress is None:
        return None
    if isinstance(progress, str) and progress == "auto":
        # Display hook: cmnb's own bar belongs to the display layer, imported only when asked.
        from ..notebook._widget_progress import auto_progress

        return auto_progress()
    if isinstance(progress, ProgressHook):
        return progress  # cmnb's own bars, or anything shaped like them
    if _is_tqdm_like(progress):
        bar: Any = progress
        if isinstance(bar, type):  # a tqdm class: a new bar for each run
            return _TqdmHook(lambda total: bar(total=total, desc="create_many"))
        return _TqdmHook(lambda total: bar)
    if callable(progress):
        return cast("ProgressCallback", progress)
    raise InputError(
        f"progress must be a callable, a tqdm class or bar, 'auto' or None, not {progress!r}.",
        field="progress",
    )


def _is_tqdm_like(candidate: object) -> bool:
    return callable(getattr(candidate, "update", None)) and callable(
        getattr(candidate, "close", None)
    )


class _TqdmHook:
    """Drives a tqdm-compatible bar: ``update(1)`` per outcome, ``close()`` at the end.

    The outcome counts go in the bar's postfix when it has ``set_postfix_str`` (tqdm does).
    """

    def __init__(self, open_bar: Callable[[int], TqdmLike]) -> None:
        self._open_bar = open_bar
        self._bar: TqdmLike | None = None
        self._counts: dict[str, int] = {}

    def start(self, total: int) -> None:
        self._bar = self._open_bar(total)

    def __call__(self, done: int, total: int, outcome: BulkOutcome) -> None:
        if self._bar is None:
            return
        self._counts[outcome.outcome] = self._counts.get(outcome.outcome, 0) + 1
        postfix = getattr(self._bar, "set_postfix_str", None)
        if callable(postfix):
            postfix(", ".join(f"{n} {k}" for k, n in self._counts.items()), refresh=False)
        self._bar.update(1)

    def finish(self, result: BulkResult) -> None:
        if self._bar is not None:
            self._bar.close()
