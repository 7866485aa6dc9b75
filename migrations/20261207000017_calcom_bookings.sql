-- Issue 19: an appointment of a business connected to Cal.com is booked there too; the uid
-- of its Cal.com booking (changed by each move, since Cal.com moves by re-booking).
ALTER TABLE appointments ADD COLUMN calcom_uid TEXT;
