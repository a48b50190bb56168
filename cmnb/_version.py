"""The version of cmnb, written once: packaging, ``cmnb.__version__``, ``cmnb --version`` and
the User-Agent all read it from here."""

__version__ = "0.1.0"
