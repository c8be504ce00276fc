-- 006_timing_plpgsql: the timing functions in PL/pgSQL. As SQL functions, the planner parsed
-- due_time's body to inline it into every statement that scheduled messages, and step_time
-- (STRICT, so not inlinable) was parsed and planned again on each call: planning the intake
-- statement cost more than running it. PL/pgSQL keeps its plans for the session.
CREATE OR REPLACE FUNCTION tidings.step_time(anchor timestamptz, offset_days integer,
                                             offset_minutes integer, local_minute integer, tz text)
RETURNS timestamptz LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE AS $$
BEGIN
    IF local_minute < 0 THEN
        RETURN ((anchor AT TIME ZONE tz) + make_interval(days => offset_days)) AT TIME ZONE tz
               + make_interval(mins => offset_minutes);
    END IF;
    RETURN ((((anchor AT TIME ZONE tz) + make_interval(days => offset_days)
              + make_interval(mins => offset_minutes))::date)::timestamp
            + make_interval(mins => local_minute)) AT TIME ZONE tz;
END $$;

CREATE OR REPLACE FUNCTION tidings.due_time(anchor timestamptz, t jsonb, tz text)
RETURNS timestamptz LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN tidings.in_window(
               tidings.step_time(anchor, coalesce((t->>'days')::integer, 0),
                                 coalesce((t->>'minutes')::integer, 0),
                                 coalesce((t->>'local')::integer, -1), tz),
               tz, t->'window');
END $$;
