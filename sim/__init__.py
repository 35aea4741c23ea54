"""The simulators: a tool that plays the city's outside world against the real
services (not a service itself; it may print, the services may not).

    scenario.py     a seeded day: complaints, reports and leads by county population, the seed's
                    focus categories, the 双11 spike, repeat and major offenders, bad input, duplicates
    population.py   the businesses, shops and people of that day (structure from the seed,
                    identities per run)
    behaviour.py    how bureaus, the office and the police decide, and how long they take (pure, seeded)
    worktime.py     office hours on official working days
    clock.py        the shared SHUANGDA_CLOCK spec (anchored: every process reads one time), wall-clock waits
    outside.py      hotlines and web form (POST /v1/complaints), platforms (POST /v1/leads:batch),
                    the big-data monitor (Kafka ingress.<client>)
    receiver.py     the bureaus' webhook gateway (Standard Webhooks verification) and the SMS gateway
    backends.py     bureau back ends, the office and the police: webhooks in, bureau API and
                    credit's penalty API out
    goods.py        seized goods and their appraisal: custody's and appraisal's APIs, the centre's key
    reporters.py    the complainants after filing: evidence photos, the survey the closing SMS invites
    evidence.py     small evidence files byte by byte (a phone's JPEG with Exif, a PNG, a PDF)
    inspections.py  random inspections of the day: pools, a seeded draw, results, publication
    registration.py API clients, bureau keys and credit clients through the services' own code
    directory.py    notify's directory pointing at the gateway
    schedule.py     actions at simulated instants
    world.py        one run: prepare, replay, observe
    observe.py      figures for the live view, read from Postgres
    live.py         the rich live view, plain lines without a terminal
    report.py       the assessment report (HTML with inline SVG, and JSON)
    stackenv.py     the services in a namespace of their own (tests, benchmark)

`shuangda demo` (deploy/commands/demo.py) drives all of it; docs/operations.md explains the run and the report.
"""
