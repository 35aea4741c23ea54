-- Issue 14 §1/§7: a penalty keeps the 刑法 article of its conduct when the decision's figures named it,
-- so a later penalty's prior_penalties_2y counts it for its own kind of conduct only (法释〔2025〕5号:
-- 213–215 for 213–215, 216 for 216, 217/218 for 217 and 218). Older rows have none (counted for every
-- kind of their category: over-flags, never misses).
ALTER TABLE records ADD COLUMN conduct smallint;

-- 以罚代刑 alerts wait a grace period before they are sent: a penalty processed before its case's referral
-- event (the two arrive on different topics) must not raise a false alert. The row is written in the
-- decision's transaction; the scheduler (one leader) re-checks the case's referral state when it is due
-- and either sends the alert (outbox, event id derived from the record id) or withdraws it, in one
-- transaction with the row's change: effectively once.
CREATE TABLE substitution_alerts (
    record_id      text PRIMARY KEY REFERENCES records (record_id),
    case_id        text,
    entity_key     text NOT NULL,
    payload        jsonb NOT NULL,          -- the PenaltySubstitutesProsecution event as it will be sent
    created_at     timestamptz NOT NULL,
    due_at         timestamptz NOT NULL,
    state          text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'withdrawn')),
    settled_at     timestamptz,
    settled_reason text
);
CREATE INDEX substitution_alerts_due ON substitution_alerts (due_at) WHERE state = 'pending';
