"""Credit's adapters: Postgres repositories, the HTTP API and the name-index refresher."""
