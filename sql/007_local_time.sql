-- 007_local_time: wall-clock times resolved the way a person reads them, and times shown to
-- people in the booking's zone with their offset.
--
-- PostgreSQL's `timestamp AT TIME ZONE tz` resolves a wall time that happens twice (the autumn
-- change: 02:35 on 2026-10-25 in Berlin) to its later, standard-time occurrence. Someone who
-- writes "02:35" means the first one. A wall time that does not happen (the spring gap: 02:30
-- on 2026-03-29 in Berlin) is read with the offset in force before the gap, which moves it
-- forward by the gap's length (03:30 CEST); that stays.

-- The UTC offset in force in zone tz at instant t, as an interval (+02:00 is '2 hours').
CREATE FUNCTION tidings.utc_offset(t timestamptz, tz text) RETURNS interval
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT (t AT TIME ZONE tz) - (t AT TIME ZONE 'UTC')
$$;

-- The instant at which wall time ts happens in zone tz: the first occurrence of a repeated
-- time, a time in a gap moved forward by the gap's length.
CREATE FUNCTION tidings.local_instant(ts timestamp, tz text) RETURNS timestamptz
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE AS $$
DECLARE
    pick    timestamptz := ts AT TIME ZONE tz;
    earlier timestamptz;
BEGIN
    -- read ts with the offset in force a day before: if that is an earlier instant that
    -- shows the same wall time, ts happens twice and that is its first occurrence
    earlier := (ts - tidings.utc_offset(pick - interval '1 day', tz)) AT TIME ZONE 'UTC';
    IF earlier < pick AND earlier AT TIME ZONE tz = ts THEN
        RETURN earlier;
    END IF;
    RETURN pick;
END $$;

-- An instant as people read it in zone tz: '2026-10-25 02:35 +02:00'.
CREATE FUNCTION tidings.local_text(t timestamptz, tz text) RETURNS text
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE AS $$
DECLARE
    off     interval := tidings.utc_offset(t, tz);
    minutes integer := (extract(epoch FROM off) / 60)::integer;
BEGIN
    RETURN to_char(t AT TIME ZONE tz, 'YYYY-MM-DD HH24:MI') || ' '
           || CASE WHEN minutes < 0 THEN '-' ELSE '+' END
           || lpad((abs(minutes) / 60)::text, 2, '0') || ':' || lpad((abs(minutes) % 60)::text, 2, '0');
END $$;

-- When a step is due. Days move the local calendar date and keep the wall clock; minutes are
-- elapsed time; local_minute (>= 0) sets the local time of day. Without days and a local time
-- the anchor is never taken through local time (an instant in a repeated hour stays itself).
CREATE OR REPLACE FUNCTION tidings.step_time(anchor timestamptz, offset_days integer,
                                             offset_minutes integer, local_minute integer, tz text)
RETURNS timestamptz LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE AS $$
BEGIN
    IF local_minute < 0 THEN
        IF offset_days = 0 THEN
            RETURN anchor + make_interval(mins => offset_minutes);
        END IF;
        RETURN tidings.local_instant((anchor AT TIME ZONE tz) + make_interval(days => offset_days), tz)
               + make_interval(mins => offset_minutes);
    END IF;
    RETURN tidings.local_instant(
               ((((anchor AT TIME ZONE tz) + make_interval(days => offset_days)
                  + make_interval(mins => offset_minutes))::date)::timestamp
                + make_interval(mins => local_minute)), tz);
END $$;

-- Moves a time into a send window {"from": "08:00", "to": "20:00", "days": ["mon", ...]},
-- in local time of tz: unchanged when inside; else the next opening (never earlier than due).
-- NULL window: unchanged.
CREATE OR REPLACE FUNCTION tidings.in_window(due timestamptz, tz text, win jsonb)
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
                RETURN greatest(due, tidings.local_instant(d + open_at, tz));
            END IF;
            CONTINUE;   -- after today's window: a later day
        END IF;
        RETURN greatest(due, tidings.local_instant(d + open_at, tz));
    END LOOP;
    RETURN due;
END $$;

-- The reasons timing gives, naming local times with their offsets.
-- A step whose time lies before its booking arrived (even by a second) is skipped.
CREATE FUNCTION tidings.reason_past(due timestamptz, arrival timestamptz, tz text) RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    SELECT 'past: its time (' || tidings.local_text(due, tz) || ') lies before the booking arrived ('
           || tidings.local_text(arrival, tz) || ')'
$$;

-- A "before" message due at or after its deadline (the booking's start): its send window left
-- no time before the start, or its own time is not before the start.
CREATE FUNCTION tidings.reason_deadline(anchor timestamptz, t jsonb, due timestamptz,
                                        deadline timestamptz, tz text) RETURNS text
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE AS $$
BEGIN
    IF t->'window' IS NOT NULL AND jsonb_typeof(t->'window') = 'object'
       AND tidings.step_time(anchor, coalesce((t->>'days')::integer, 0),
                             coalesce((t->>'minutes')::integer, 0),
                             coalesce((t->>'local')::integer, -1), tz) < deadline THEN
        RETURN 'no time inside its send window before the booking starts ('
               || tidings.local_text(deadline, tz) || ')';
    END IF;
    RETURN 'its time (' || tidings.local_text(due, tz) || ') is not before the booking starts ('
           || tidings.local_text(deadline, tz) || ')';
END $$;

-- A message whose deadline passed before it could be sent expires.
CREATE FUNCTION tidings.reason_expired(deadline timestamptz, tz text) RETURNS text
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
    SELECT 'its deadline (' || tidings.local_text(deadline, tz) || ') passed before it could be sent'
$$;
