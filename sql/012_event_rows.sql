-- 012_event_rows: indexes for the admin reads. The rows an event planned,
-- found by the event: the preview reads them back inside its rolled-back
-- transaction (a scan of every message otherwise).
CREATE INDEX messages_event ON tidings.messages (org_id, event_id);

-- The customer view of the admin API: a customer's bookings by address, and
-- the messages that went to an address.
CREATE INDEX bookings_email ON tidings.bookings (org_id, lower(doc->'customer'->>'email'));
CREATE INDEX bookings_phone ON tidings.bookings (org_id, (doc->'customer'->>'phone'));
CREATE INDEX messages_recipient ON tidings.messages (org_id, recipient);
