"""Notify's adapters: Postgres (delivery state), the directory file, and the channels
(webhook, SMTP, SMS gateway)."""
