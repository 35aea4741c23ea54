"""Early warning with faust-streaming: surges of reports per (county, category)
and per suspect in hopping windows raise ``alert.hotspot-detected`` for the
leading-group office.

Run as its own process (``python -m services.routing.warnings``: the faust app
plus /metrics, /healthz, /readyz on ``SHUANGDA_ROUTING_WARNINGS_HTTP_PORT``,
default 8012), or inside routing with ``SHUANGDA_ROUTING_WARNINGS_EMBEDDED=true``.
"""
