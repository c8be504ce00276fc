-- 010_objects_version: any change to an organization's sequences or templates,
-- however it is made (the CLI, the admin API, plain SQL), moves the
-- organization's objects version, which the engine's caches of sequences and
-- templates compare against.

CREATE FUNCTION tidings.objects_touch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tidings.org_state (org_id, objects_version)
    SELECT DISTINCT org_id, 1 FROM changed
    ON CONFLICT (org_id) DO UPDATE SET objects_version = tidings.org_state.objects_version + 1;
    RETURN NULL;
END $$;

CREATE TRIGGER objects_touch_insert AFTER INSERT ON tidings.objects
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION tidings.objects_touch();
CREATE TRIGGER objects_touch_update AFTER UPDATE ON tidings.objects
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION tidings.objects_touch();
CREATE TRIGGER objects_touch_delete AFTER DELETE ON tidings.objects
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION tidings.objects_touch();
