-- 009_strict_input: the SQL way in checks a booking as strictly as the webhook does and names
-- every problem at once: no field the engine does not know (outside the free-form "data"), an
-- e-mail address and a phone number that can be sent to, consent given as true or false. An
-- event key used before for another booking document is refused instead of being ignored.

CREATE OR REPLACE FUNCTION tidings.check_booking(booking jsonb) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    rfc3339 constant text := '^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})$';
    known_fields constant text[] := ARRAY['id', 'status', 'subtype', 'start', 'end', 'timezone',
        'name', 'location', 'customer', 'updated_at', 'version', 'data'];
    known_customer constant text[] := ARRAY['id', 'first_name', 'last_name', 'email', 'phone',
        'locale', 'consent'];
    problems text[] := '{}';
    t_start  timestamptz;
    t_end    timestamptz;
    field    text;
    c        jsonb;
    k        text;
    v        jsonb;
BEGIN
    IF booking IS NULL OR jsonb_typeof(booking) <> 'object' THEN
        RAISE EXCEPTION 'booking: must be a JSON object' USING ERRCODE = '22023';
    END IF;
    FOR k IN SELECT jsonb_object_keys(booking) LOOP
        IF NOT k = ANY (known_fields) THEN
            problems := problems || format('booking.%s: unknown field (known: %s; free-form values go in data)',
                                           left(k, 60), array_to_string(known_fields, ', '));
        END IF;
    END LOOP;
    IF jsonb_typeof(booking->'id') IS DISTINCT FROM 'string' OR booking->>'id' = ''
       OR length(booking->>'id') > 200 THEN
        problems := problems || 'booking.id: required, a string of 1 to 200 characters'::text;
    END IF;
    IF jsonb_typeof(booking->'status') IS DISTINCT FROM 'string' OR booking->>'status' NOT IN
       ('pending', 'confirmed', 'checked_in', 'completed', 'cancelled', 'no_show') THEN
        problems := problems || 'booking.status: required, one of pending, confirmed, checked_in, completed, cancelled, no_show'::text;
    END IF;
    FOREACH field IN ARRAY ARRAY['start', 'end', 'updated_at'] LOOP
        CONTINUE WHEN booking->field IS NULL OR jsonb_typeof(booking->field) = 'null';
        IF jsonb_typeof(booking->field) <> 'string' OR booking->>field !~ rfc3339 THEN
            problems := problems || format('booking.%s: ''%s'' is not an RFC 3339 time like 2026-12-05T10:00:00+01:00',
                                           field, left(booking->>field, 60));
            CONTINUE;
        END IF;
        BEGIN
            PERFORM (booking->>field)::timestamptz;
        EXCEPTION WHEN others THEN
            problems := problems || format('booking.%s: ''%s'' is not a valid time', field, left(booking->>field, 60));
        END;
    END LOOP;
    IF booking->'start' IS NULL OR jsonb_typeof(booking->'start') = 'null' THEN
        problems := problems || 'booking.start: required, an RFC 3339 time like 2026-12-05T10:00:00+01:00'::text;
    ELSIF cardinality(problems) = 0 AND jsonb_typeof(booking->'end') = 'string' THEN
        t_start := (booking->>'start')::timestamptz;
        t_end := (booking->>'end')::timestamptz;
        IF t_end < t_start THEN
            problems := problems || 'booking.end: is before start'::text;
        END IF;
    END IF;
    IF booking ? 'timezone' AND jsonb_typeof(booking->'timezone') <> 'null' THEN
        BEGIN
            PERFORM now() AT TIME ZONE (booking->>'timezone');
        EXCEPTION WHEN others THEN
            problems := problems || format('booking.timezone: ''%s'' is not a known time zone', left(booking->>'timezone', 60));
        END;
    END IF;
    FOREACH field IN ARRAY ARRAY['customer', 'data'] LOOP
        IF booking ? field AND jsonb_typeof(booking->field) NOT IN ('object', 'null') THEN
            problems := problems || format('booking.%s: must be an object', field);
        END IF;
    END LOOP;
    IF booking ? 'version' AND jsonb_typeof(booking->'version') NOT IN ('number', 'null') THEN
        problems := problems || 'booking.version: must be a whole number'::text;
    END IF;
    c := booking->'customer';
    IF jsonb_typeof(c) = 'object' THEN
        FOR k IN SELECT jsonb_object_keys(c) LOOP
            IF NOT k = ANY (known_customer) THEN
                problems := problems || format('booking.customer.%s: unknown field (known: %s)',
                                               left(k, 60), array_to_string(known_customer, ', '));
            END IF;
        END LOOP;
        -- the addresses are checked, never echoed
        IF jsonb_typeof(c->'email') = 'string' AND c->>'email' <> ''
           AND c->>'email' !~ '^[^@\s<>,"]+@[^@\s<>,".]+(\.[^@\s<>,".]+)+$' THEN
            problems := problems || 'booking.customer.email: not a valid e-mail address'::text;
        END IF;
        IF jsonb_typeof(c->'phone') = 'string' AND c->>'phone' <> ''
           AND (c->>'phone' !~ '^\s*(\+|00|0)[0-9 ./()\t-]+$'
                OR length(regexp_replace(c->>'phone', '[^0-9]', '', 'g')) NOT BETWEEN 6 AND 17) THEN
            problems := problems || 'booking.customer.phone: not a phone number (use +49... or a national 0...)'::text;
        END IF;
        IF c ? 'consent' AND jsonb_typeof(c->'consent') NOT IN ('object', 'null') THEN
            problems := problems || 'booking.customer.consent: must be an object like {"sms": true}'::text;
        ELSIF jsonb_typeof(c->'consent') = 'object' THEN
            FOR k, v IN SELECT * FROM jsonb_each(c->'consent') LOOP
                IF jsonb_typeof(v) NOT IN ('boolean', 'null') THEN
                    problems := problems || format('booking.customer.consent.%s: must be true or false', left(k, 40));
                END IF;
            END LOOP;
        END IF;
    END IF;
    IF cardinality(problems) > 0 THEN
        RAISE EXCEPTION '%', array_to_string(problems, '; ') USING ERRCODE = '22023';
    END IF;
END $$;

-- Writes a booking event for org in the caller's transaction and wakes the engine. event_key
-- (optional) makes a repeated call harmless: the same key with the same booking is stored once;
-- the same key with another booking is refused. Returns the event id.
CREATE OR REPLACE FUNCTION tidings.submit_booking(org text, booking jsonb, event_key text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    event_id bigint;
    stored   jsonb;
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
        SELECT e.id, e.payload INTO event_id, stored FROM tidings.events e
         WHERE e.org_id = org AND e.source = 'sql' AND e.idempotency_key = event_key;
        IF stored IS DISTINCT FROM booking THEN
            RAISE EXCEPTION 'event_key: ''%'' was used before for another booking document (event %): nothing stored',
                left(event_key, 100), event_id USING ERRCODE = '23505';
        END IF;
        RETURN event_id;
    END IF;
    PERFORM pg_notify('tidings_events', org);
    RETURN event_id;
END $$;
