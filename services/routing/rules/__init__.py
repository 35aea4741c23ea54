"""Routing rules as data (``routing.yaml``), validated at start-up by
``services.routing.adapters.rules_file``. A package only so that wheels ship the file."""
