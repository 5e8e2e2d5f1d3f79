"""The ``idp`` command line (DESIGN.md §6)."""
