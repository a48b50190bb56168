"""The client layer: everything that talks to the Data Sources API, and nothing that draws.

Settings, the ``Secret`` key, input validation, the parsed models, the retry rules, pacing, the
transport (one ``requests.Session``), ``Client`` with ``client.data_sources.*`` and bulk creation.
It imports requests and the standard library only (never pandas, ipywidgets, IPython or jinja2;
``make lint`` enforces it). The modules are internal: the public names are ``cmnb``'s.
"""
