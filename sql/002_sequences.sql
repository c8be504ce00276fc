-- 002_sequences: what sequences as data need: timing specs kept on each message (so a moved
-- booking is re-timed in SQL), send windows, conditions and fallback chains re-checked at
-- send time, the customer's other bookings (cross-sell conditions), suppressed addresses,
-- and a per-organization version of its sequences and templates (engines cache them).

ALTER TABLE tidings.bookings ADD COLUMN customer_key text;   -- customer.id, else lower(email)
ALTER TABLE tidings.bookings ADD COLUMN subtype text;
ALTER TABLE tidings.bookings ADD COLUMN version bigint;      -- the sender's version, if any
CREATE INDEX bookings_customer ON tidings.bookings (org_id, customer_key, starts_at);

ALTER TABLE tidings.messages ADD COLUMN timing jsonb;        -- {"anchor","days","minutes","local","window"}
ALTER TABLE tidings.messages ADD COLUMN conditions jsonb;    -- re-checked at send time
ALTER TABLE tidings.messages ADD COLUMN fallback jsonb;      -- the rest of the chain: [{"channel","template"}]
ALTER TABLE tidings.messages ADD COLUMN requires_consent boolean NOT NULL DEFAULT false;
CREATE INDEX messages_booking ON tidings.messages (org_id, booking_id) WHERE status = 'scheduled';

CREATE TABLE tidings.suppressions (
    org_id     text        NOT NULL,
    channel    text        NOT NULL,                 -- email, sms, whatsapp
    address    text        NOT NULL,                 -- lower-case e-mail or E.164 number
    reason     text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text        NOT NULL,
    PRIMARY KEY (org_id, channel, address)
);

CREATE TABLE tidings.org_state (
    org_id          text   PRIMARY KEY,
    objects_version bigint NOT NULL DEFAULT 0        -- bumped by every change to objects
);

-- Moves a time into a send window {"from": "08:00", "to": "20:00", "days": ["mon", ...]},
-- in local time of tz: unchanged when inside; else the next opening. NULL window: unchanged.
CREATE FUNCTION tidings.in_window(due timestamptz, tz text, win jsonb)
RETURNS timestamptz LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    local_ts timestamp := due AT TIME ZONE tz;
    open_at  time := coalesce((win->>'from')::time, '00:00');
    close_at time := coalesce((win->>'to')::time, '24:00');
    days     text[];
    d        date;
BEGIN
    IF win IS NULL OR jsonb_typeof(win) <> 'object' THEN
        RETURN due;
    END IF;
    days := ARRAY(SELECT jsonb_array_elements_text(coalesce(win->'days', '[]')));
    FOR i IN 0..7 LOOP
        d := local_ts::date + i;
        CONTINUE WHEN cardinality(days) > 0 AND NOT (to_char(d, 'dy') = ANY (days));
        IF i = 0 THEN
            IF local_ts::time >= open_at AND local_ts::time < close_at THEN
                RETURN due;
            ELSIF local_ts::time < open_at THEN
                RETURN (d + open_at) AT TIME ZONE tz;
            END IF;
            CONTINUE;   -- after today's window: a later day
        END IF;
        RETURN (d + open_at) AT TIME ZONE tz;
    END LOOP;
    RETURN due;
END $$;

-- When a message with timing spec t is due, given its anchor time, in tz.
CREATE FUNCTION tidings.due_time(anchor timestamptz, t jsonb, tz text)
RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT tidings.in_window(
               tidings.step_time(anchor, coalesce((t->>'days')::integer, 0),
                                 coalesce((t->>'minutes')::integer, 0),
                                 coalesce((t->>'local')::integer, -1), tz),
               tz, t->'window')
$$;
