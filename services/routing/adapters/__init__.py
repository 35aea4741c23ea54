"""Routing's adapters: Postgres repositories, HTTP routes, egress topics, the deadline watch."""
