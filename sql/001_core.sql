-- 001_core: the four core tables.
--   events    the inbox: every booking event that came in, committed before it is acknowledged
--   bookings  the latest known state of each booking
--   objects   sequences and templates, versioned admin-edited JSON
--   messages  the queue: one row per message to send, with its state and why
-- org_id leads every key, so tables can later be distributed or split by organization.

CREATE TABLE tidings.events (
    org_id             text        NOT NULL,
    id                 bigint      GENERATED ALWAYS AS IDENTITY,
    source             text        NOT NULL,            -- the trigger instance ("webhook")
    idempotency_key    text,                            -- the sender's event id (webhook-id)
    kind               text        NOT NULL,            -- "booking"
    payload            jsonb       NOT NULL,
    received_at        timestamptz NOT NULL DEFAULT now(),
    processed_at       timestamptz,                     -- NULL until expanded
    outcome            text,                            -- expanded, stale, unchanged, error: ...
    messages_scheduled integer     NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX events_idempotency ON tidings.events (org_id, source, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX events_unprocessed ON tidings.events (received_at) WHERE processed_at IS NULL;

CREATE TABLE tidings.bookings (
    org_id        text        NOT NULL,
    booking_id    text        NOT NULL,
    status        text        NOT NULL,
    starts_at     timestamptz NOT NULL,
    ends_at       timestamptz,
    timezone      text        NOT NULL,                 -- the booking's, else the organization's
    doc           jsonb       NOT NULL,                 -- the whole document as last posted
    event_id      bigint      NOT NULL,                 -- the event that set this state
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, booking_id)
);

CREATE TABLE tidings.objects (
    org_id      text        NOT NULL,
    kind        text        NOT NULL CHECK (kind IN ('sequence', 'template')),
    key         text        NOT NULL,
    version     integer     NOT NULL,
    body        jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text        NOT NULL,
    PRIMARY KEY (org_id, kind, key, version)
);

-- The newest version of every object.
CREATE VIEW tidings.current_objects AS
    SELECT DISTINCT ON (org_id, kind, key) org_id, kind, key, version, body, created_at, created_by
      FROM tidings.objects
     ORDER BY org_id, kind, key, version DESC;

CREATE TABLE tidings.messages (
    org_id            text        NOT NULL,
    id                bigint      GENERATED ALWAYS AS IDENTITY,
    booking_id        text        NOT NULL,
    sequence_key      text        NOT NULL,
    step_id           text        NOT NULL,
    channel           text        NOT NULL,
    template_key      text        NOT NULL,
    status            text        NOT NULL DEFAULT 'scheduled' CHECK (status IN (
                          'scheduled', 'sending', 'sent', 'delivered', 'bounced', 'complained',
                          'failed', 'cancelled', 'skipped', 'expired')),
    reason            text,                             -- why it is in this state
    scheduled_for     timestamptz NOT NULL,
    deadline          timestamptz,                      -- not sent after this: expired
    attempts          integer     NOT NULL DEFAULT 0,
    lease_owner       text,                             -- the engine that claimed it
    lease_token       bigint,                           -- fencing token of the current claim
    lease_expires_at  timestamptz,
    recipient         text,                             -- the address it went to
    rendered          jsonb,                            -- what was sent: subject, text, html
    provider_id       text,
    event_id          bigint      NOT NULL,             -- the event that scheduled it
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    sent_at           timestamptz,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, booking_id, sequence_key, step_id, channel)
);
CREATE INDEX messages_due ON tidings.messages (scheduled_for) WHERE status = 'scheduled';
CREATE INDEX messages_leases ON tidings.messages (lease_expires_at) WHERE status = 'sending';

CREATE SEQUENCE tidings.lease_tokens;

-- When a step is due: days are calendar days in the booking's zone (so "-7d at 09:00" is 09:00
-- local time also across a daylight-saving change); minutes are absolute.
CREATE FUNCTION tidings.step_time(anchor timestamptz, offset_days integer,
                                  offset_minutes integer, local_minute integer, tz text)
RETURNS timestamptz LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN local_minute < 0 THEN
               ((anchor AT TIME ZONE tz) + make_interval(days => offset_days)) AT TIME ZONE tz
               + make_interval(mins => offset_minutes)
           ELSE
               ((((anchor AT TIME ZONE tz) + make_interval(days => offset_days)
                   + make_interval(mins => offset_minutes))::date)::timestamp
                 + make_interval(mins => local_minute)) AT TIME ZONE tz
           END
$$;
