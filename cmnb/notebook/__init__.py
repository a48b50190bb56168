"""The display layer: everything that turns cmnb's objects into sentences, HTML or widgets.

``_messages`` (the one place an error becomes a sentence, shared with the CLI), ``_render``
(pure DataFrame → HTML/text functions), ``_table`` (``DataSourceTable``), ``_progress`` (bulk
progress bars), ``_form`` and ``_bulk_panel`` (``DataSourceForm``). It builds on ``cmnb.api``;
the modules are internal: the public names are ``cmnb``'s.
"""
