-- Principals of kind 'appraisal' registered before the scope 'appraisals:report' existed hold only
-- the kind's former default ('cases:read'), so the appraisal service refuses their answers and
-- reports. Give them the kind's current default. A principal whose scopes were named otherwise
-- when it was created keeps them (an operator chose them; `shuangda keys` re-issues it if needed).
UPDATE principals
   SET scopes = ARRAY['cases:read', 'appraisals:report']
 WHERE kind = 'appraisal' AND revoked_at IS NULL AND scopes = ARRAY['cases:read'];
