-- 005_app: the way in for applications whose bookings live in PostgreSQL. An app calls
-- tidings.submit_booking() inside its own transaction (or attaches tidings.booking_row_trigger
-- to its bookings table): the event is written in that transaction, rolled back with it, and a
-- NOTIFY wakes the engine, which expands it. NOTIFY is only a wake-up: the engine also picks up
-- every unprocessed event when it starts and after every reconnect.

-- The organizations engines serve (written by `tidings run` and `tidings migrate`), so that a
-- booking for an unknown organization is refused in the app's transaction, not lost later.
CREATE TABLE tidings.organizations (
    org_id     text        PRIMARY KEY,
    name       text        NOT NULL,
    seen_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX events_pending ON tidings.events (org_id, id) WHERE processed_at IS NULL;

-- Checks a booking document like the engine does, naming the field at fault.
CREATE FUNCTION tidings.check_booking(booking jsonb) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    rfc3339 constant text := '^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})$';
    t_start timestamptz;
    t_end   timestamptz;
    field   text;
BEGIN
    IF booking IS NULL OR jsonb_typeof(booking) <> 'object' THEN
        RAISE EXCEPTION 'booking: must be a JSON object' USING ERRCODE = '22023';
    END IF;
    IF jsonb_typeof(booking->'id') IS DISTINCT FROM 'string' OR booking->>'id' = ''
       OR length(booking->>'id') > 200 THEN
        RAISE EXCEPTION 'booking.id: required, a string of 1 to 200 characters' USING ERRCODE = '22023';
    END IF;
    IF jsonb_typeof(booking->'status') IS DISTINCT FROM 'string' OR booking->>'status' NOT IN
       ('pending', 'confirmed', 'checked_in', 'completed', 'cancelled', 'no_show') THEN
        RAISE EXCEPTION 'booking.status: required, one of pending, confirmed, checked_in, completed, cancelled, no_show'
            USING ERRCODE = '22023';
    END IF;
    FOREACH field IN ARRAY ARRAY['start', 'end', 'updated_at'] LOOP
        CONTINUE WHEN booking->field IS NULL OR jsonb_typeof(booking->field) = 'null';
        IF jsonb_typeof(booking->field) <> 'string' OR booking->>field !~ rfc3339 THEN
            RAISE EXCEPTION 'booking.%: ''%'' is not an RFC 3339 time like 2026-12-05T10:00:00+01:00',
                field, left(booking->>field, 60) USING ERRCODE = '22023';
        END IF;
        BEGIN
            PERFORM (booking->>field)::timestamptz;
        EXCEPTION WHEN others THEN
            RAISE EXCEPTION 'booking.%: ''%'' is not a valid time', field, left(booking->>field, 60)
                USING ERRCODE = '22023';
        END;
    END LOOP;
    IF booking->'start' IS NULL OR jsonb_typeof(booking->'start') = 'null' THEN
        RAISE EXCEPTION 'booking.start: required, an RFC 3339 time like 2026-12-05T10:00:00+01:00'
            USING ERRCODE = '22023';
    END IF;
    t_start := (booking->>'start')::timestamptz;
    IF jsonb_typeof(booking->'end') = 'string' THEN
        t_end := (booking->>'end')::timestamptz;
        IF t_end < t_start THEN
            RAISE EXCEPTION 'booking.end: is before start' USING ERRCODE = '22023';
        END IF;
    END IF;
    IF booking ? 'timezone' AND jsonb_typeof(booking->'timezone') <> 'null' THEN
        BEGIN
            PERFORM now() AT TIME ZONE (booking->>'timezone');
        EXCEPTION WHEN others THEN
            RAISE EXCEPTION 'booking.timezone: ''%'' is not a known time zone', booking->>'timezone'
                USING ERRCODE = '22023';
        END;
    END IF;
    FOREACH field IN ARRAY ARRAY['customer', 'data'] LOOP
        IF booking ? field AND jsonb_typeof(booking->field) NOT IN ('object', 'null') THEN
            RAISE EXCEPTION 'booking.%: must be an object', field USING ERRCODE = '22023';
        END IF;
    END LOOP;
    IF booking ? 'version' AND jsonb_typeof(booking->'version') NOT IN ('number', 'null') THEN
        RAISE EXCEPTION 'booking.version: must be a whole number' USING ERRCODE = '22023';
    END IF;
END $$;

-- Writes a booking event for org in the caller's transaction and wakes the engine. event_key
-- (optional) makes a repeated call harmless: the same key is stored once. Returns the event id.
CREATE FUNCTION tidings.submit_booking(org text, booking jsonb, event_key text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    event_id bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM tidings.organizations o WHERE o.org_id = org) THEN
        RAISE EXCEPTION 'org: unknown organization ''%''', org USING ERRCODE = '22023';
    END IF;
    PERFORM tidings.check_booking(booking);
    INSERT INTO tidings.events (org_id, source, idempotency_key, kind, payload)
    VALUES (org, 'sql', event_key, 'booking', booking)
    ON CONFLICT (org_id, source, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id INTO event_id;
    IF event_id IS NULL THEN
        SELECT e.id INTO event_id FROM tidings.events e
         WHERE e.org_id = org AND e.source = 'sql' AND e.idempotency_key = event_key;
        RETURN event_id;
    END IF;
    PERFORM pg_notify('tidings_events', org);
    RETURN event_id;
END $$;

-- Builds a booking document from a table row: column_map maps booking fields (dotted for
-- nested ones: "customer.email") to the row's column names. Columns that are NULL are left out;
-- timestamps are written in RFC 3339.
CREATE FUNCTION tidings.booking_from_row(r jsonb, column_map jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    doc  jsonb := '{}';
    path text[];
    v    jsonb;
    m    record;
BEGIN
    FOR m IN SELECT key, value FROM jsonb_each_text(column_map) LOOP
        v := r->m.value;
        CONTINUE WHEN v IS NULL OR jsonb_typeof(v) = 'null';
        path := string_to_array(m.key, '.');
        FOR i IN 1 .. array_length(path, 1) - 1 LOOP
            IF doc #> path[1:i] IS NULL THEN
                doc := jsonb_set(doc, path[1:i], '{}');
            END IF;
        END LOOP;
        doc := jsonb_set(doc, path, v);
    END LOOP;
    RETURN doc;
END $$;

-- A trigger for an app's bookings table: CREATE TRIGGER ... AFTER INSERT OR UPDATE ... FOR EACH
-- ROW EXECUTE FUNCTION tidings.booking_row_trigger('<org>', '<column map as JSON>').
CREATE FUNCTION tidings.booking_row_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM tidings.submit_booking(TG_ARGV[0],
                                   tidings.booking_from_row(to_jsonb(NEW), TG_ARGV[1]::jsonb));
    RETURN NEW;
END $$;
