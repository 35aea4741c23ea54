-- The priority lane (issue 11 §4): the relay publishes unsent rows of a priority-lane topic
-- (``<topic>.priority``, shared.topics.priority_lane) before the others, so a complaint's event
-- never waits behind a bulk backlog in the outbox. This index finds them however long that backlog is.
CREATE INDEX IF NOT EXISTS outbox_unsent_priority ON outbox (id) WHERE sent_at IS NULL AND topic LIKE '%.priority';
