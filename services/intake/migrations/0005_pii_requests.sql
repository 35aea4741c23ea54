-- Issue 12 §4: personal-information requests (个人信息保护法 第四十五、四十七条) and retention.
-- A report whose complainant's personal data was erased (on request, or past the retention rule of
-- services/intake/domain/retention.py) keeps its case, figures and masked summary; the sealed
-- complainant and the sealed original description are removed, and the erasure is recorded here and
-- in the audit log (0004_audit.sql) (`shuangda pii`).
ALTER TABLE reports ADD COLUMN pii_erased_at timestamptz;
ALTER TABLE reports ADD COLUMN pii_erased_why text;
