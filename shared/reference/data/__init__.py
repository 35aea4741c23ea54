"""Packaged reference data (YAML). A package only so that wheels ship the files."""
