"""custody: seized goods in custody (公物仓) — lots, their chain of custody and their disposal."""
