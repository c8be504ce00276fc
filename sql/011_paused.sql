-- 011_paused: a paused sequence holds its pending messages instead of
-- cancelling them ('paused', a state of its own); activating it again
-- releases them (those whose deadline passed meanwhile then expire at send
-- time, with the reason). Archiving cancels what is pending or paused.

ALTER TABLE tidings.messages DROP CONSTRAINT messages_status_check;
ALTER TABLE tidings.messages ADD CONSTRAINT messages_status_check CHECK (status IN (
    'scheduled', 'sending', 'sent', 'delivered', 'bounced', 'complained', 'failed', 'cancelled',
    'skipped', 'expired', 'held', 'paused'));
