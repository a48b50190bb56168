"""`DataSourceForm`: the notebook form that creates data sources through a client.

The form does no HTTP of its own: every request is a call on ``client.data_sources``. Every
callback catches everything (ipywidgets swallows or misroutes tracebacks), shows a short,
HTML-escaped message in the status line, logs details to the ``cmnb`` logger at DEBUG and
restores the buttons in ``finally``. Only widgets present in both ipywidgets 7.7 and 8 are used.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ..api._secret import Secret
from ..api._validation import name_problem
from ..errors import CmnbError
from ._bulk_panel import BulkPanel
from ._messages import describe_error
from ._snapshot import snapshot_html, widget_bundle
from ._table import DataSourceTable
from ._widgets import StableReprBox, never_raises, status_html

if TYPE_CHECKING:
    from ..api._client import Client
    from ..api._models import DataSource

__all__ = ["DataSourceForm", "describe_error"]

logger = logging.getLogger("cmnb")

#: Under the form's picture, which only viewers that run no widget code show.
SNAPSHOT_CAPTION = (
    "A picture of the form as it was when this cell ran. Run the notebook to use the form."
)


class DataSourceForm:
    """An ipywidgets form: type a name, press **Create**, see the source in a table below.

    ``form.mode_toggle`` switches between one name (``"single"``) and many (``"bulk"``: one
    name per line in ``form.bulk.names_input``, **Create all**, a progress bar and one outcome
    row per name; see :class:`~cmnb.notebook._bulk_panel.BulkPanel`).

    ``client=None`` uses :func:`cmnb.connect` (LIVE with a configured key, else the embedded
    sandbox). ``form.table`` is the :class:`cmnb.DataSourceTable` of what was created
    or reused here (pass ``table=`` to share one); ``form.widget`` is the displayed box.
    ``max_rows`` caps the rows shown under the form (a given table keeps its own). Display the
    form by making it the last expression of a cell. Nothing here raises from a callback: every
    outcome, good or bad, is a line in ``form.status``. Raises what :func:`cmnb.connect` raises
    when ``client`` is ``None``.
    """

    def __init__(
        self,
        client: Client | None = None,
        *,
        table: DataSourceTable | None = None,
        max_rows: int = 20,
    ) -> None:
        if client is None:
            from ..connect import connect

            client = connect()
        self.client: Client = client
        self._owns_client = False
        self._busy = False
        self.table = table if table is not None else DataSourceTable(max_rows=max_rows)

        self.mode_line = widgets.HTML()
        # Synced on Enter or when the field loses focus, then moved at once into a Secret in
        # the kernel and the field emptied: a key pasted but never used is not saved either.
        self.key_input = widgets.Password(
            description="API key", placeholder="paste a key to go LIVE", continuous_update=False
        )
        self._pending_key: Secret | None = None
        self.go_live_button = widgets.Button(description="Go LIVE")
        self.key_row = widgets.HBox([self.key_input, self.go_live_button])
        self.name_input = widgets.Text(
            description="Source name",
            placeholder="e.g. In-house billing",
            continuous_update=True,
            style={"description_width": "initial"},
        )
        self.create_button = widgets.Button(description="Create", button_style="primary")
        self.hint = widgets.HTML()
        self.reuse_checkbox = widgets.Checkbox(
            value=False, description="If it exists, reuse it", indent=False
        )
        self.status = widgets.HTML()
        self.table_view = widgets.HTML()
        self.mode_toggle = widgets.ToggleButtons(
            options=[("One name", "single"), ("Many names", "bulk")], value="single"
        )
        self.single_row = widgets.HBox([self.name_input, self.create_button, self.hint])
        self.bulk = self._bulk_panel()
        self.widget = StableReprBox(
            [
                self.mode_line,
                self.key_row,
                self.mode_toggle,
                self.single_row,
                self.bulk.box,
                self.reuse_checkbox,
                self.status,
                self.bulk.outcome_view,
                self.table_view,
            ]
        )
        self.widget.snapshot = self._snapshot_html
        self._listen()
        self._show_input_mode()
        self._show_mode()
        self._validate()
        self._render_table()

    def _bulk_panel(self) -> BulkPanel:
        # The panel sees the form only through these: its status line, its busy guard, the
        # reuse box, the current client (it changes on Go LIVE) and the table.
        return BulkPanel(
            status=self.status,
            run=self._run,
            busy=lambda: self._busy,
            reuse=lambda: bool(self.reuse_checkbox.value),
            create_many=lambda names, **options: self.client.data_sources.create_many(
                names, **options
            ),
            plan=lambda names: self.client.data_sources.plan(names),
            keep=self._keep,
        )

    def _listen(self) -> None:
        self.name_input.observe(self._on_name_change, names="value")
        # Enter in the field sends a custom {"event": "submit"} message in ipywidgets 7 and 8;
        # Text.on_submit would do the same but is deprecated in 8, so listen to it directly.
        self.name_input.on_msg(self._on_name_message)
        self.create_button.on_click(self._on_create)
        self.go_live_button.on_click(self._on_go_live)
        self.key_input.observe(self._on_key_arrived, names="value")
        self.mode_toggle.observe(self._on_mode_change, names="value")

    # -- display --------------------------------------------------------------------------------

    @property
    def mode(self) -> str:
        """``"SANDBOX"`` when the client talks to this machine, else ``"LIVE"``."""
        return "SANDBOX" if self.client.is_loopback else "LIVE"

    def __repr__(self) -> str:
        return f"DataSourceForm(mode={self.mode})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        # Built by hand: ipywidgets 7 has no _repr_mimebundle_, and 8's uses the leaky repr.
        # text/html is the picture that viewers without a widget manager show (_snapshot.py).
        return widget_bundle(self.widget.model_id, repr(self), self._snapshot_html())

    def _snapshot_html(self) -> str:
        """The form as a picture: its mode line, status line, outcome rows and table as last
        rendered (all escaped when rendered; no field value, no key)."""
        parts = [self.mode_line.value, self.status.value]
        if self.mode_toggle.value == "bulk":
            parts.append(self.bulk.outcome_view.value)
        parts.append(self.table_view.value)
        return snapshot_html(parts, caption=SNAPSHOT_CAPTION)

    def _show_mode(self) -> None:
        if self.client.is_loopback:
            line = "<b>SANDBOX</b> — nothing leaves this machine."
        else:
            line = f"<b>LIVE</b> — requests go to {html.escape(self.client.base_url)}"
        self.mode_line.value = f'<span class="cmnb-mode">{line}</span>'
        self.widget._cmnb_repr = repr(self)
        self.key_row.layout.display = None if self._offer_live() else "none"

    def _offer_live(self) -> bool:
        if self._owns_client or not self.client.is_loopback:
            return False  # already switched with a pasted key, or LIVE from the start
        from ..api._settings import resolve_api_key

        try:
            return resolve_api_key() is None
        except (CmnbError, OSError):
            return True

    def _show_input_mode(self) -> None:
        bulk = self.mode_toggle.value == "bulk"
        self.single_row.layout.display = "none" if bulk else None
        self.bulk.show(bulk)

    @never_raises
    def _on_mode_change(self, change: Any) -> None:
        self._show_input_mode()

    def _render_table(self) -> None:
        self.table_view.value = self.table._repr_html_()

    def _keep(self, sources: Iterable[DataSource], gone: Iterable[str] = ()) -> None:
        """Put ``sources`` in the table, drop the uuids ``gone`` (deleted on the server), and
        show it (the bulk panel's way in)."""
        for uuid in gone:
            if uuid in self.table:
                self.table.remove(uuid)
        self.table.extend(sources)
        self._render_table()

    def _set_status(self, kind: str, text: str, names: Iterable[str] = ()) -> None:
        self.status.value = status_html(kind, text, names=names)

    # -- validation -----------------------------------------------------------------------------

    def _problem(self) -> str | None:
        value = self.name_input.value
        problem = name_problem(value)
        if problem is None and self.table.find_name(value) is not None:
            problem = f"“{value.strip()}” is already in this table."
        return problem

    def _validate(self) -> None:
        problem = self._problem()
        if problem is None:
            self.hint.value = ""
        else:
            kind = "info" if self.name_input.value == "" else "error"
            names = [self.name_input.value.strip()]
            self.hint.value = status_html(kind, problem, icon=False, names=names)
        self.create_button.disabled = self._busy or problem is not None

    @never_raises
    def _on_name_change(self, change: Any) -> None:
        self._validate()

    # -- actions --------------------------------------------------------------------------------

    @never_raises
    def _on_name_message(self, widget: Any, content: Any, buffers: Any = None) -> None:
        """Enter in the name field does what **Create** does (nothing while it is disabled)."""
        if isinstance(content, dict) and content.get("event") == "submit":
            self._on_create()

    def _run(
        self, busy_text: str, action: Callable[[], tuple[str, str]], names: Iterable[str] = ()
    ) -> None:
        """Run one request under the busy guard; ``action`` returns the (kind, text) to show.

        ``names`` are the source names the texts may quote (isolated for display).

        The ``_busy`` flag, not only ``disabled``, refuses clicks that arrive while a request
        is in flight (a disabled button can still deliver clicks queued before it was disabled).
        """
        if self._busy:
            return
        names = tuple(names)
        self._busy = True
        self.create_button.disabled = True
        self.bulk.disable()
        self.go_live_button.disabled = True
        self.mode_toggle.disabled = True
        try:
            self._set_status("busy", busy_text, names)
            kind, text = action()
        except (Exception, KeyboardInterrupt) as exc:
            logger.debug("cmnb form request failed", exc_info=True)
            kind, text = "error", describe_error(exc)
        finally:
            self._busy = False
            self.go_live_button.disabled = False
            self.mode_toggle.disabled = False
            self._validate()
            self.bulk.validate()
        self._set_status(kind, text, names)

    @never_raises
    def _on_create(self, button: Any = None) -> None:
        if self._busy or self._problem() is not None:
            # A click on an invalid name (e.g. queued before the field was cleared) does nothing.
            self._validate()
            return
        name = self.name_input.value.strip()
        reuse = bool(self.reuse_checkbox.value)

        def create() -> tuple[str, str]:
            if reuse:
                source, created = self.client.data_sources.get_or_create(name)
            else:
                source, created = self.client.data_sources.create(name), True
            self.table.add(source)
            self._render_table()
            self.name_input.value = ""
            verb = "Created" if created else "Reused existing"
            return "ok", f"{verb} “{source.name}” — {source.uuid}"

        verb = "Finding or creating" if reuse else "Creating"
        self._run(f"{verb} “{name}”…", create, names=(name,))

    @never_raises
    def _on_key_arrived(self, change: Any) -> None:
        pasted = change.get("new") or ""
        if not pasted:
            return  # our own clearing
        # The key must never stay in widget state (it would be saved with the notebook): keep
        # it in the kernel only, until Go LIVE uses it.
        self.key_input.value = ""
        if pasted.strip():
            self._pending_key = Secret(pasted.strip())
            self._set_status("info", "Key received (kept in memory, never saved): press Go LIVE.")

    @never_raises
    def _on_go_live(self, button: Any = None) -> None:
        if self.key_input.value:  # a front end that did not sync before the click
            self._on_key_arrived({"new": self.key_input.value})
        if self._busy:
            return
        key, self._pending_key = self._pending_key, None
        if key is None:
            self._set_status("info", "Paste an API key first.")
            return
        self._run("Checking the key…", lambda: self._switch_to_live(key))

    def _switch_to_live(self, key: Secret) -> tuple[str, str]:
        from ..api._client import Client

        live = Client(api_key=key)
        try:
            live.ping()
        except BaseException:
            live.close()
            raise
        previous, owned = self.client, self._owns_client
        self.client, self._owns_client = live, True
        if owned:
            previous.close()
        note = ""
        self.bulk.clear()  # its outcome rows were sandbox sources
        if len(self.table):
            self.table.clear()
            note = " (the table was cleared: it listed sandbox sources)"
            self._render_table()
        self._show_mode()
        self._validate()
        return "ok", f"Now LIVE: requests go to {live.base_url}{note}."
