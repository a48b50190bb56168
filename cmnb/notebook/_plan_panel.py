"""Preview and Apply in the form's bulk mode: the box's names as a plan, shown, then applied.

**Preview** checks the box like the live check does (a line that cannot be sent refuses the
preview, nothing is sent), then asks ``client.data_sources.plan(names)`` (one list call, never
``prune``: the form deletes nothing) and shows the plan under the box. **Apply** applies exactly
that plan (``plan.apply``, creates only) through the bulk panel's run (a thread in a kernel,
**Stop**, the bar), shows one row per name sent, as **Create all** does, and puts the sources now
in the account into the form's table. A preview holds while the box holds the same names; any
other edit, a **Create all** or going LIVE drops it, and Apply waits for a new one.
The pure helpers (:func:`refusal`, :func:`preview_status`, :func:`apply_status`,
:func:`sent_steps`, :func:`table_changes`) hold the rules; :class:`PlanPanel` wires them up.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import ipywidgets as widgets

from ..api._apply_result import ApplyInterrupted, ApplyResult
from ..api._bulk_result import OUTCOMES, BulkOutcome, BulkResult
from ..errors import InputError
from ._messages import FORM_PREVIEW_OPTION, describe_error, describe_outcome
from ._plan_view import plan_html
from ._render import outcomes_html
from ._widget_progress import WidgetProgress
from ._widgets import never_raises, status_html

if TYPE_CHECKING:
    import pandas

    from ..api._models import DataSource
    from ..api._plan import Plan
    from ._bulk_panel import BoxCheck, RunGuarded

__all__ = [
    "Launch",
    "PlanPanel",
    "apply_frame",
    "apply_status",
    "preview_status",
    "refusal",
    "sent_steps",
    "table_changes",
]

#: ``launch(busy_text, work)``: the bulk panel's run (bar, Stop, a thread in a kernel) around
#: ``work(bar, stop)``, which returns the ``(kind, text)`` of the status line.
Launch = Callable[[str, Callable[[WidgetProgress, threading.Event], tuple[str, str]]], None]

_LISTED_LINES = 10  # a refusal names at most this many line numbers
EDITED = "The names changed since this preview: press Preview again to see the new plan."
CREATED_ALL = "Create all ran since this preview: press Preview again to see the new plan."


def _s(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def refusal(check: BoxCheck) -> str:
    """The status line when the box has lines that cannot be sent: a plan is of every name in
    the box or of none, so nothing is sent (the live check under the box says why each fails).
    """
    numbers = [str(number) for number, _, _ in check.invalid]
    shown = numbers[:_LISTED_LINES]
    listed = ", ".join(shown[:-1]) + f" and {shown[-1]}" if len(shown) > 1 else shown[0]
    if len(numbers) > len(shown):
        listed = ", ".join(shown) + f" and {len(numbers) - len(shown)} more"
    which = "line" if len(numbers) == 1 else "lines"
    them = "it" if len(numbers) == 1 else "them"
    problem = InputError(
        f"{_s(len(numbers), 'line')} cannot be previewed ({which} {listed}): fix or remove "
        f"{them} first (the reasons are under the box)."
    )
    return describe_error(problem)


def preview_status(plan: Plan) -> tuple[str, str]:
    """The status line after a preview, as ``(kind, text)``: what Apply would do, or that the
    account already holds every name (then there is nothing to apply)."""
    counts = plan.counts
    creates, keeps = counts["create"], counts["keep"]
    if not plan.changes:
        every = "the name is" if keeps == 1 else f"all {keeps} names are"
        return "ok", f"Nothing to change: {every} in the account."
    them = "it" if creates == 1 else "them"
    return (
        "info",
        f"Preview: {creates} to create, {keeps} unchanged; nothing is created yet. "
        f"Press Apply to create {them}.",
    )


def apply_status(result: ApplyResult) -> tuple[str, str]:
    """The status line after Apply, as ``(kind, text)``: ``"Applied: 2 created, 0 existing,
    0 failed, 5 unchanged"``, and what to do when something is left."""
    counts = result.counts
    text = f"{counts['created']} created, {counts['existing']} existing, {counts['failed']} failed"
    if counts["unknown"]:  # not failed: they may exist (see the rows)
        text += f", {counts['unknown']} unknown"
    if counts["skipped"]:
        text += f", {counts['skipped']} not sent"
    text = (
        f"{'Interrupted' if result.interrupted else 'Applied'}: {text}, {counts['kept']} unchanged"
    )
    if not result.ok:
        text += ". Press Preview, then Apply, for the rest."
    return ("ok" if result.ok and not result.interrupted else "error"), text


def sent_steps(result: ApplyResult) -> BulkResult:
    """The steps Apply acted on (the creates, and a kept name deleted since the preview) as
    ``create_many``'s outcomes: the form shows them as it shows **Create all**'s rows. The
    names kept as they were are only counted (the preview listed them)."""
    # Not kept (nor deleted/gone, which a form's plan never has): what Create all would show.
    acted = [o for o in result if o.outcome in OUTCOMES]
    rows = [
        BulkOutcome(o.name, cast("Any", o.outcome), o.source, o.error, index=index)
        for index, o in enumerate(acted)
    ]
    return BulkResult(rows, interrupted=result.interrupted)


def apply_frame(result: ApplyResult) -> pandas.DataFrame:
    """The rows of :func:`sent_steps` with the errors in the form's words, as **Create all**'s
    (but the advice is a new preview, not the reuse box: Apply always reuses)."""
    steps = sent_steps(result)
    frame = steps.to_frame()
    frame["error"] = [describe_outcome(o, reuse_option=FORM_PREVIEW_OPTION) for o in steps]
    return frame


def table_changes(result: ApplyResult) -> tuple[list[DataSource], list[str]]:
    """What the form's table learns from an apply: the sources the account now holds for the
    plan's names (created, existing, kept: as ensure mode's), and the uuids of kept sources
    deleted since the preview (the table must not keep showing them)."""
    in_account = ("created", "existing", "kept")
    held = [o.source for o in result if o.outcome in in_account and o.source is not None]
    gone = [o.uuid for o in result if o.action == "keep" and o.outcome == "failed" and o.uuid]
    return held, gone


class PlanPanel:
    """**Preview** and **Apply**, built by the bulk panel as ``form.bulk.plan_panel``.

    It knows the bulk panel only through its arguments: ``status`` (the form's status line),
    ``run`` (the form's busy guard, for Preview's one request), ``launch`` (the bulk panel's run,
    for Apply: see :data:`Launch`), ``busy()`` (a request or a run is in flight), ``check()``
    (the box, checked), ``plan(names)`` (the current client's ``data_sources.plan``),
    ``keep(sources, gone)`` (into the form's table; ``gone`` are uuids to drop), ``rows`` (the
    outcome rows' widget) and ``concurrency()``.

    ``preview_button``, ``apply_button`` (enabled while a preview with changes stands),
    ``view`` (the plan under the box), ``plan`` (the standing :class:`~cmnb.api._plan.Plan`, or
    ``None``) and ``result`` (the last apply's :class:`~cmnb.api._apply_result.ApplyResult`).
    Callbacks never raise: problems become the form's status line.
    """

    def __init__(
        self,
        *,
        status: widgets.HTML,
        run: RunGuarded,
        launch: Launch,
        busy: Callable[[], bool],
        check: Callable[[], BoxCheck],
        plan: Callable[[list[str]], Plan],
        keep: Callable[[list[DataSource], list[str]], None],
        rows: widgets.HTML,
        concurrency: Callable[[], int],
    ) -> None:
        self.status, self._run, self._launch, self._busy = status, run, launch, busy
        self._check, self._plan, self._keep, self._rows = check, plan, keep, rows
        self._concurrency = concurrency
        self.plan: Plan | None = None
        self._planned: tuple[str, ...] = ()  # the names the standing plan is of
        self.result: ApplyResult | None = None
        self.preview_button = widgets.Button(
            description="Preview",
            tooltip="Show what Apply would create (one list request; nothing is created)",
        )
        self.apply_button = widgets.Button(
            description="Apply",
            button_style="success",
            tooltip="Create the names the preview shows as 'create'",
            disabled=True,
        )
        self.view = widgets.HTML()
        self.preview_button.on_click(self._on_preview)
        self.apply_button.on_click(self._on_apply)

    def refresh(self, check: BoxCheck) -> None:
        """Follow the box: a preview of other names no longer stands; buttons enabled or not."""
        if self.plan is not None and check.names != self._planned:
            self.invalidate(EDITED)
        busy = self._busy()
        self.preview_button.disabled = busy or check.empty
        self.apply_button.disabled = busy or self.plan is None or not self.plan.changes

    def disable(self) -> None:
        """Both buttons off (a request or a run starts); :meth:`refresh` turns them back on."""
        self.preview_button.disabled = self.apply_button.disabled = True

    def invalidate(self, why: str) -> None:
        """Drop the standing preview (if any) and say ``why`` in its place."""
        if self.plan is not None:
            self.plan, self._planned = None, ()
            self.view.value = status_html("info", why, icon=False)
            self.apply_button.disabled = True

    def clear(self) -> None:
        """Forget the preview and the last apply (the form went LIVE: they were the sandbox's)."""
        self.plan, self._planned, self.result = None, (), None
        self.view.value = ""
        self.apply_button.disabled = True

    @never_raises
    def _on_preview(self, button: Any = None) -> None:
        if self._busy():
            return  # a click delivered while a request is in flight
        check = self._check()
        if check.empty:
            return
        self.plan, self._planned, self.view.value = None, (), ""
        if check.invalid:  # every line or none: a plan of part of the box would mislead
            self.status.value = status_html("error", refusal(check))
            return
        self.disable()
        names = check.names
        self._run(f"Previewing {_s(len(names), 'name')}…", lambda: self._preview(names))

    def _preview(self, names: tuple[str, ...]) -> tuple[str, str]:
        """Runs inside the form's busy guard; returns the status line."""
        plan = self._plan(list(names))
        self.plan, self._planned = plan, names
        self.view.value = plan_html(plan)
        return preview_status(plan)

    @never_raises
    def _on_apply(self, button: Any = None) -> None:
        plan, names = self.plan, self._planned
        if plan is None or not plan.changes or self._busy():
            return
        self.plan = None  # one apply per preview: a click queued behind this one does nothing
        self.disable()
        creates = plan.counts["create"]
        self._launch(
            f"Applying the preview: creating {_s(creates, 'name')}…",
            lambda bar, stop: self._apply(plan, names, bar, stop),
        )

    def _apply(
        self, plan: Plan, names: tuple[str, ...], bar: WidgetProgress, stop: threading.Event
    ) -> tuple[str, str]:
        """Runs inside the form's busy guard (in a thread in a kernel); returns the status line."""
        try:
            result = plan.apply(concurrency=self._concurrency(), progress=bar, stop=stop)
        except ApplyInterrupted as stopped:  # Stop or Ctrl-C: show what finished
            result = stopped.partial_result
        except BaseException:
            # Raised before any create (the account could not be read): the preview stands, so
            # Apply can be pressed again (unless the box changed meanwhile: refresh drops it).
            self.plan, self._planned = plan, names
            raise
        self.result = result
        self.view.value = ""  # applied: the plan is history, the rows tell what happened
        self._keep(*table_changes(result))
        self._rows.value = outcomes_html(apply_frame(result))
        return apply_status(result)
