"""Packaged holiday data files, one ``<year>.yaml`` per State Council notice (see README.md)."""
