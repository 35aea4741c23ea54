"""Intake's adapters: SQL (postgres), the HTTP API (http, open311, schemas)."""
