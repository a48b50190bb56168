"""The display layer: everything that turns cmnb's objects into sentences, HTML or widgets.

``_messages`` (the one place an error becomes a sentence, shared with the CLI), ``_theme`` (the
colours, from the Jupyter theme), ``_render`` (pure DataFrame → HTML/text functions), ``_frame``
and ``_table`` (``DataSourceTable``), ``_bulk_view`` (a ``BulkResult``'s text, HTML and frame),
``_progress`` (the bar base and the text bar, stdlib only), ``_widget_progress`` (the widget bar,
``progress="auto"``), ``_widgets`` (status lines, guarded callbacks), ``_form`` and
``_bulk_panel`` (``DataSourceForm``). It builds on ``cmnb.api``, which reaches back only through
display hooks imported inside a method (listed in pyproject's import contracts); the modules
are internal: the public names are ``cmnb``'s.
"""
