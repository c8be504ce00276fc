-- 008_exactly_once: what "one send per message at the provider" needs.
--
-- An attempt whose outcome is unknown (the request left, no answer came; or the engine holding
-- it died) is said so in the row: outcome_unknown, and unknown_outcomes counts such attempts.
-- The next attempt knows it, so the channel can ask the provider before sending again, or the
-- row is held for an operator. A held row waits in place ('held') until an operator retries or
-- cancels it. A reclaimed row keeps its last lease token, so the verdict of an engine that was
-- only slow (not dead) still lands until another engine has claimed the row again.

ALTER TABLE tidings.messages DROP CONSTRAINT messages_status_check;
ALTER TABLE tidings.messages ADD CONSTRAINT messages_status_check CHECK (status IN (
    'scheduled', 'sending', 'sent', 'delivered', 'bounced', 'complained', 'failed', 'cancelled',
    'skipped', 'expired', 'held'));
ALTER TABLE tidings.messages ADD COLUMN outcome_unknown boolean NOT NULL DEFAULT false;
ALTER TABLE tidings.messages ADD COLUMN unknown_outcomes integer NOT NULL DEFAULT 0;
-- An operator's retry of a held row: send it again even where unknown_outcome = hold.
ALTER TABLE tidings.messages ADD COLUMN resend_approved boolean NOT NULL DEFAULT false;

-- This database's identity, made once at migrate time: idempotency keys and provider message ids
-- carry it, so a rebuilt database (or a second one) on the same provider account never repeats
-- a key that an earlier one used for another message.
CREATE TABLE tidings.installation (
    singleton  boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    id         text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO tidings.installation (id)
    SELECT substr(replace(gen_random_uuid()::text, '-', ''), 1, 16);

-- A suspension is either for credentials (until the configuration changes or an operator resumes
-- the channel) or for a used-up quota (until the time the provider gave, or the next day).
ALTER TABLE tidings.channel_suspensions ADD COLUMN kind text NOT NULL DEFAULT 'credentials'
    CHECK (kind IN ('credentials', 'quota'));
ALTER TABLE tidings.channel_suspensions ADD COLUMN until timestamptz;

-- The engines running against this database, and the configuration fingerprint each runs for
-- each organization: engines that differ do not send for that organization.
CREATE TABLE tidings.engines (
    engine_id  text        PRIMARY KEY,         -- "host:pid"
    started_at timestamptz NOT NULL DEFAULT now(),
    seen_at    timestamptz NOT NULL DEFAULT now(),
    listen     text
);
CREATE TABLE tidings.engine_orgs (
    engine_id   text NOT NULL REFERENCES tidings.engines ON DELETE CASCADE,
    org_id      text NOT NULL,
    fingerprint text NOT NULL,
    PRIMARY KEY (engine_id, org_id)
);
