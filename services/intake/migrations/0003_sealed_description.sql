-- Issue 12 §3: a complaint's description as given may carry personal data the masking did
-- not recognise (a name, an address) or be longer than the summary. The readable copy stays
-- `summary` (masked, cut to 500 characters): what a bureau and the public may see. The original
-- is kept only sealed (shared.pii, AES-GCM bound to the field "description"), and only when it
-- differs from the summary; it is never published on Kafka.
ALTER TABLE reports ADD COLUMN description_sealed jsonb;
