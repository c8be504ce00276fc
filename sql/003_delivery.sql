-- 003_delivery: what the delivery engine needs: claims fair across organizations and
-- channels (an index per organization and channel), suspended channels shared by every
-- engine, and a record of what operators did to messages.

CREATE INDEX messages_org_channel_due ON tidings.messages (org_id, channel, scheduled_for)
    WHERE status = 'scheduled';

-- A channel whose credentials the provider refused: its messages wait until the
-- configuration changes (another fingerprint) or an operator resumes it.
CREATE TABLE tidings.channel_suspensions (
    org_id      text        NOT NULL,
    channel     text        NOT NULL,
    reason      text        NOT NULL,
    fingerprint text        NOT NULL,               -- of the configuration that was refused
    since       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, channel)
);

-- Who did what to a message, and why (tidings messages retry|cancel, channels resume).
CREATE TABLE tidings.actions (
    org_id      text        NOT NULL,
    id          bigint      GENERATED ALWAYS AS IDENTITY,
    subject     text        NOT NULL,               -- "message 42", "channel email"
    action      text        NOT NULL,               -- retry, cancel, resume
    actor       text        NOT NULL,
    reason      text        NOT NULL,
    detail      text,                               -- e.g. "failed -> scheduled"
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, id)
);
