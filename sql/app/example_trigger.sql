-- An example app table and the trigger that hands its rows to Tidings.
-- Run it in the database that holds the tidings schema (after `tidings migrate`).

CREATE SCHEMA IF NOT EXISTS shop;

CREATE TABLE IF NOT EXISTS shop.bookings (
    ref        text PRIMARY KEY,
    state      text NOT NULL,
    kind       text,
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz,
    email      text,
    first_name text
);

CREATE OR REPLACE TRIGGER tidings_bookings
AFTER INSERT OR UPDATE ON shop.bookings
FOR EACH ROW EXECUTE FUNCTION tidings.booking_row_trigger('haff-segeln',
  '{"id": "ref", "status": "state", "subtype": "kind", "start": "starts_at", "end": "ends_at",
    "customer.email": "email", "customer.first_name": "first_name"}');
