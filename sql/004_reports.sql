-- 004_reports: what providers tell us after sending: delivery reports (each kept, so a
-- replayed one changes nothing), the customers' inbound messages (the WhatsApp 24-hour
-- window), and provider ids to find a message by.

CREATE INDEX messages_provider_id ON tidings.messages (org_id, provider_id)
    WHERE provider_id IS NOT NULL;

CREATE TABLE tidings.message_reports (
    org_id      text        NOT NULL,
    id          bigint      GENERATED ALWAYS AS IDENTITY,
    message_id  bigint      NOT NULL,
    channel     text        NOT NULL,
    kind        text        NOT NULL,               -- delivered, delayed, bounced, complained,
                                                    -- failed, seen
    status      text,                               -- the provider's status name
    detail      text,
    event_key   text        NOT NULL,               -- the provider's event id, else kind/status
    received_at timestamptz NOT NULL DEFAULT now(),
    happened_at timestamptz,
    PRIMARY KEY (org_id, id),
    UNIQUE (org_id, message_id, event_key)
);

-- The last time each customer wrote to us on a channel (WhatsApp: free text may be sent for
-- 24 hours after it).
CREATE TABLE tidings.inbound_contacts (
    org_id          text        NOT NULL,
    channel         text        NOT NULL,
    address         text        NOT NULL,           -- E.164
    last_inbound_at timestamptz NOT NULL,
    last_text       text,
    PRIMARY KEY (org_id, channel, address)
);
