"""The bulk mode of :class:`cmnb.DataSourceForm`: one name per line, **Create all**.

The panel checks the box on every keystroke (names to send, lines that cannot be sent, names
repeated), sends the valid names through ``client.data_sources.create_many`` under the form's
busy guard, drives an inline progress bar, then shows one row per name, a one-line summary, and
puts every created or existing source into ``form.table``. Lines whose name is now in the
account leave the box; the others stay, to be fixed and sent again. It does no HTTP of its own.
In a notebook kernel the run goes on in a thread, so that **Stop** can be pressed while it runs
(a kernel handles one widget event at a time): Stop means stop sending, as Ctrl-C does for
``create_many``. **Preview** and **Apply** (the box as a plan, then applied, through the same
run) live in :mod:`cmnb.notebook._plan_panel`.
The pure helpers (:func:`check_box`, :func:`summary_html`, :func:`remaining_lines`,
:func:`run_status`, :func:`outcome_frame`) hold the rules; the widgets only wire them up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import ipywidgets as widgets

from ..api._bulk import BulkInterrupted, BulkResult
from ..api._validation import name_problem
from ._messages import describe_outcome
from ._plan_panel import CREATED_ALL, PlanPanel
from ._render import outcomes_html
from ._widget_progress import WidgetProgress, _in_notebook
from ._widgets import never_raises, status_html

if TYPE_CHECKING:
    import pandas

    from ..api._plan import Plan

__all__ = [
    "BoxCheck",
    "BulkPanel",
    "check_box",
    "outcome_frame",
    "remaining_lines",
    "run_status",
    "summary_html",
]

#: ``run(busy_text, action)``: the form's busy guard around one request; ``action`` returns the
#: ``(kind, text)`` of the status line.
RunGuarded = Callable[[str, Callable[[], tuple[str, str]]], None]
#: What a run does once its bar and Stop are up: ``work(bar, stop)`` returns the status line.
Work = Callable[[WidgetProgress, threading.Event], tuple[str, str]]

_SHOWN_PROBLEMS = 10  # the summary lists at most this many problem lines
_SHOWN_CHARS = 40
STOPPING = "Stopping: nothing more is sent; the requests already sent are finishing…"

logger = logging.getLogger("cmnb")


@dataclass(frozen=True)
class BoxCheck:
    """What the bulk box holds, line numbers counted from 1 (blank lines count, are ignored).

    ``names``: the valid names, stripped, each once, in box order. ``invalid``: ``(line
    number, line, problem)`` for each line that cannot be sent. ``repeated``: ``(name, line
    numbers)`` for each valid name on more than one line (it is sent once).
    """

    names: tuple[str, ...] = ()
    invalid: tuple[tuple[int, str, str], ...] = ()
    repeated: tuple[tuple[str, tuple[int, ...]], ...] = ()

    @property
    def empty(self) -> bool:
        """True when the box holds nothing but blank lines."""
        return not self.names and not self.invalid


def _lines(text: str) -> list[str]:
    # split("\n"), not splitlines(): a name holding U+2028 or U+001C must be refused as one
    # line, not silently cut in two.
    return text.split("\n")


def check_box(text: str) -> BoxCheck:
    """Check the box's text line by line with the same rules as ``create_many``."""
    where: dict[str, list[int]] = {}
    invalid: list[tuple[int, str, str]] = []
    for number, line in enumerate(_lines(text), start=1):
        if not line.strip():
            continue
        problem = name_problem(line)
        if problem is not None:
            invalid.append((number, line, problem))
        else:
            where.setdefault(line.strip(), []).append(number)
    repeated = tuple((name, tuple(lines)) for name, lines in where.items() if len(lines) > 1)
    return BoxCheck(tuple(where), tuple(invalid), repeated)


def _shown(line: str) -> str:
    """A line as the summary quotes it: stripped, cut to ``_SHOWN_CHARS``."""
    shown = line.strip()
    return shown if len(shown) <= _SHOWN_CHARS else shown[: _SHOWN_CHARS - 1] + "…"


def _numbers(lines: tuple[int, ...]) -> str:
    return ", ".join(map(str, lines[:-1])) + f" and {lines[-1]}"


def summary_html(check: BoxCheck) -> str:
    """The live summary under the box: how many names, then each problem line (escaped)."""
    if check.empty:
        return status_html("info", "Type or paste one name per line.", icon=False)
    count = len(check.names)
    head = f"{count} name{'' if count == 1 else 's'} to send." if count else "No name to send."
    if check.invalid:
        lines = len(check.invalid)
        head += f" {lines} line{'' if lines == 1 else 's'} cannot be sent (fix or remove):"
    # Each line's name is quoted in a <bdi>, like every name a status line shows.
    items = [
        ("error", f"line {number} “{_shown(line)}”: {problem}", _shown(line))
        for number, line, problem in check.invalid
    ]
    items += [
        ("info", f"“{_shown(name)}” is on lines {_numbers(lines)}: it is sent once.", _shown(name))
        for name, lines in check.repeated
    ]
    shown = [
        f"<li>{status_html(kind, text, icon=False, names=(name,))}</li>"
        for kind, text, name in items
    ]
    if len(items) > _SHOWN_PROBLEMS:
        more = f"… and {len(items) - _SHOWN_PROBLEMS} more"
        shown = [*shown[:_SHOWN_PROBLEMS], f"<li>{status_html('info', more, icon=False)}</li>"]
    listed = f'<ul class="cmnb-problems">{"".join(shown)}</ul>' if shown else ""
    return status_html("info" if count else "error", head, icon=False) + listed


def remaining_lines(text: str, done: Iterable[str]) -> str:
    """The box after a run: every non-blank line except those whose name is in ``done``."""
    finished = set(done)
    kept = [line for line in _lines(text) if line.strip() and line.strip() not in finished]
    return "\n".join(kept)


def run_status(result: BulkResult, *, not_sent: int = 0) -> tuple[str, str]:
    """The status line after a run, as ``(kind, text)``: ``"12 created, 3 existing, 1 failed"``.

    ``not_sent`` counts the box's invalid lines, which were not sent.
    """
    counts = result.counts
    text = f"{counts['created']} created, {counts['existing']} existing, {counts['failed']} failed"
    if counts["unknown"]:  # not failed: they may exist (see the rows)
        text += f", {counts['unknown']} unknown"
    if counts["skipped"]:
        text += f", {counts['skipped']} not sent"
    if result.interrupted:
        text = f"Interrupted: {text}"
    if not_sent:
        text += f"; {not_sent} invalid line{'' if not_sent == 1 else 's'} not sent"
    if not result.ok or not_sent:
        text += ". The lines not done are still in the box."
    return ("ok" if result.ok and not result.interrupted and not not_sent else "error"), text


def outcome_frame(result: BulkResult) -> pandas.DataFrame:
    """``result.to_frame()`` with the error column in the form's words (see describe_outcome)."""
    frame = result.to_frame()
    frame["error"] = [describe_outcome(o) for o in result.outcomes]
    return frame


class BulkPanel:
    """The widgets of bulk mode, built by :class:`cmnb.DataSourceForm` as ``form.bulk``.

    The panel knows the form only through its arguments: ``status`` (the form's status line,
    where problems are shown), ``run`` (the form's busy guard, see :data:`RunGuarded`),
    ``busy()`` (a request is in flight), ``reuse()`` (the **If it exists, reuse it** box),
    ``create_many(names, **options)`` and ``plan(names)`` (the current client's) and
    ``keep(sources, gone=())`` (into the form's table; ``gone``: uuids to drop from it).

    ``names_input`` (a ``Textarea``, one name per line), ``summary`` (the live check),
    ``create_all_button``, ``stop_button`` (shown while a run goes on: nothing more is sent,
    the requests already sent finish), ``progress_slot`` (holds the bar of the current or last run),
    ``outcome_view`` (one row per name of the last run) and ``result`` (that run's
    :class:`cmnb.BulkResult`, or ``None``). ``plan_panel`` holds **Preview** and **Apply**
    (see :class:`~cmnb.notebook._plan_panel.PlanPanel`). ``box`` is the input part the form
    lays out. The form's **If it exists, reuse it** box picks ``mode="ensure"`` (ticked) or
    ``"create"`` for **Create all**. ``threaded`` (default: inside a notebook kernel) runs
    **Create all** and **Apply** in a thread so that **Stop** can be clicked; :meth:`wait`
    waits for that run (read ``result`` after it).
    Callbacks never raise: problems become the form's status line.
    """

    def __init__(
        self,
        *,
        status: widgets.HTML,
        run: RunGuarded,
        busy: Callable[[], bool],
        reuse: Callable[[], bool],
        create_many: Callable[..., BulkResult],
        plan: Callable[[list[str]], Plan],
        keep: Callable[..., None],
        concurrency: int = 8,
        threaded: bool | None = None,
    ) -> None:
        self.status = status
        self._run, self._busy, self._reuse = run, busy, reuse
        self._create_many, self._keep = create_many, keep
        self.concurrency = concurrency
        self.threaded = _in_notebook() if threaded is None else threaded
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.result: BulkResult | None = None
        self.progress: WidgetProgress | None = None
        self.names_input = widgets.Textarea(
            description="Names",
            placeholder="One name per line, e.g.\nBilling US\nBilling EU",
            rows=8,
            continuous_update=True,
            layout=widgets.Layout(width="36em"),
        )
        self.summary = widgets.HTML()
        self.create_all_button = widgets.Button(description="Create all", button_style="primary")
        self.stop_button = widgets.Button(
            description="Stop",
            button_style="warning",
            tooltip="Send nothing more; the requests already sent finish and are reported",
            layout=widgets.Layout(display="none"),
        )
        self.progress_slot = widgets.HBox([])
        self.outcome_view = widgets.HTML()
        self.plan_panel = self._plan_panel(plan)
        self.box = widgets.VBox(
            [self.names_input, self.summary, self._actions(), self.plan_panel.view]
        )
        self.names_input.observe(self._on_names_change, names="value")
        self.create_all_button.on_click(self._on_create_all)
        self.stop_button.on_click(self._on_stop)
        self.validate()

    def _plan_panel(self, plan: Callable[[list[str]], Plan]) -> PlanPanel:
        return PlanPanel(
            status=self.status,
            run=self._run,
            launch=self.launch,
            busy=lambda: self._busy() or self.running,
            check=lambda: check_box(self.names_input.value),
            plan=plan,
            keep=self._keep,
            rows=self.outcome_view,
            concurrency=lambda: self.concurrency,
        )

    def _actions(self) -> widgets.HBox:
        # One row, wrapped rather than cut off in a narrow window (the bar is the widest part).
        buttons = [self.create_all_button, self.plan_panel.preview_button]
        buttons += [self.plan_panel.apply_button, self.stop_button, self.progress_slot]
        return widgets.HBox(buttons, layout=widgets.Layout(flex_flow="row wrap"))

    def show(self, visible: bool) -> None:
        """Show or hide the bulk widgets (the form's mode toggle calls this)."""
        display = None if visible else "none"
        self.box.layout.display = display
        self.outcome_view.layout.display = display

    def clear(self) -> None:
        """Forget the last run's outcomes, bar and preview (the form went LIVE: they were the
        sandbox's)."""
        self.result, self.progress = None, None
        self.outcome_view.value = ""
        self.progress_slot.children = ()
        self.plan_panel.clear()

    def validate(self) -> BoxCheck:
        """Refresh the summary and the buttons from the box; return the check."""
        check = check_box(self.names_input.value)
        self.summary.value = summary_html(check)
        self.create_all_button.disabled = self._busy() or self.running or not check.names
        self.plan_panel.refresh(check)
        return check

    def disable(self) -> None:
        """Every button of the panel off (a request starts); :meth:`validate` restores them."""
        self.create_all_button.disabled = True
        self.plan_panel.disable()

    @property
    def running(self) -> bool:
        """True while a threaded run goes on."""
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a threaded run to end (at most ``timeout`` seconds); True once none runs."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.running

    @never_raises
    def _on_names_change(self, change: Any) -> None:
        self.validate()

    @never_raises
    def _on_stop(self, button: Any = None) -> None:
        """Stop sending: the run sends nothing more, settles what was sent, and returns."""
        if not self._stop.is_set() and self.stop_button.layout.display != "none":
            self._stop.set()
            self.stop_button.disabled = True
            self.status.value = status_html("busy", STOPPING)

    @never_raises
    def _on_create_all(self, button: Any = None) -> None:
        if self._busy() or self.running:
            return  # a click delivered while a run is in flight
        check = self.validate()
        if not check.names:
            return
        mode: Literal["ensure", "create"] = "ensure" if self._reuse() else "create"
        count = len(check.names)
        verb = "Finding or creating" if mode == "ensure" else "Creating"
        noun = "name" if count == 1 else "names"
        self.plan_panel.invalidate(CREATED_ALL)  # the account is about to change
        self.launch(
            f"{verb} {count} {noun}…",
            lambda bar, stop: self._create_all(check.names, mode, bar, stop, len(check.invalid)),
        )

    def launch(self, busy_text: str, work: Work) -> None:
        """Run ``work(bar, stop)`` under the form's busy guard, with a fresh bar and **Stop**
        shown: in a thread in a kernel (so that Stop can be clicked), else right here. The last
        run's rows are cleared first; the buttons are restored when it ends."""
        bar = WidgetProgress(show=False)
        bar.bar.description = ""
        self.progress = bar
        self.progress_slot.children = (bar.box,)
        self.result, self.plan_panel.result, self.outcome_view.value = None, None, ""
        stop = self._stop = threading.Event()
        self.stop_button.disabled, self.stop_button.layout.display = False, None

        def job() -> None:
            try:
                self._run(busy_text, lambda: work(bar, stop))
            except BaseException:  # a thread's exception would only reach stderr
                logger.debug("cmnb bulk run failed", exc_info=True)
            finally:
                self.stop_button.layout.display = "none"
                if self.threaded:  # the run is over: the buttons may be pressed again
                    self._thread = None
                    self.validate()

        if not self.threaded:
            job()
            return
        self.disable()  # before the thread starts: no second run
        self._thread = threading.Thread(target=job, name="cmnb-form-bulk", daemon=True)
        self._thread.start()

    def _create_all(
        self,
        names: tuple[str, ...],
        mode: Literal["ensure", "create"],
        bar: WidgetProgress,
        stop: threading.Event,
        not_sent: int,
    ) -> tuple[str, str]:
        """Runs inside the form's busy guard; returns the status line."""
        try:
            result = self._create_many(
                list(names), mode=mode, concurrency=self.concurrency, progress=bar, stop=stop
            )
        except BulkInterrupted as stopped:  # Stop or Ctrl-C: show what finished, never a traceback
            result = stopped.partial_result
        self.result = result
        self._keep(result.sources)
        self.outcome_view.value = outcomes_html(outcome_frame(result))
        done = [o.name for o in result.outcomes if o.ok]
        self.names_input.value = remaining_lines(self.names_input.value, done)
        return run_status(result, not_sent=not_sent)
