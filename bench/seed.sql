-- 200 businesses with realistic settings, 100 calls each (20,000), 5 lines per call.
INSERT INTO customers (business_name, contact_name, email, phone, business_type, business_hours, timezone,
    deskringer_number, forward_to_number, greeting_message, services_offered, faqs, appointment_handling,
    pricing_info, special_instructions, ai_instructions, notification_email, notification_phone,
    subscription_status, trial_ends_at, created_at)
SELECT 'Business ' || n, 'Owner ' || n, 'owner' || n || '@bench.test', '+1415555' || lpad(n::text, 4, '0'),
    (ARRAY['hair salon', 'dental practice', 'gym', 'restaurant'])[1 + n % 4],
    '{"monday":{"open":"09:00","close":"17:00"},"tuesday":{"open":"09:00","close":"17:00"},"wednesday":{"open":"09:00","close":"17:00"},"thursday":{"open":"09:00","close":"19:00"},"friday":{"open":"09:00","close":"17:00"},"saturday":{"open":"10:00","close":"14:00"},"sunday":{"closed":true}}'::json,
    'America/New_York', '+1628555' || lpad(n::text, 4, '0'), '+1415666' || lpad(n::text, 4, '0'),
    'Thanks for calling Business ' || n || '! How can I help you today?',
    'Haircuts, colouring, highlights, blow-dry, beard trims, wedding styling and treatments for every hair type.',
    '[{"question":"Do you have parking?","answer":"Yes, free parking is available behind the building."},{"question":"Do you take walk-ins?","answer":"Yes, when a chair is free; booking is recommended."},{"question":"Which payment methods do you accept?","answer":"Cash, all major cards and Apple Pay."}]'::json,
    'collect_details', 'Haircuts from $45, colour from $90, highlights from $120.',
    'Always mention the loyalty card. Never book colour appointments after 4pm.',
    repeat('You are the friendly phone receptionist for this business. Keep replies short and warm. ', 20),
    'alerts' || n || '@bench.test', '+1415777' || lpad(n::text, 4, '0'),
    (ARRAY['active', 'active', 'trial', 'past_due'])[1 + n % 4], now() + interval '5 days',
    now() - (n || ' hours')::interval
FROM generate_series(1, 200) AS n;

INSERT INTO calls (customer_id, caller_phone, twilio_call_sid, duration_seconds, status, intent, callback_requested,
    handled, twilio_cost, openai_cost, created_at, ended_at, summary, transcript)
SELECT c.id, '+1212555' || lpad((k % 10000)::text, 4, '0'), 'CAseed' || c.id || 'x' || k, 30 + (k * 7) % 300,
    (ARRAY['completed', 'completed', 'completed', 'failed', 'no-answer'])[1 + k % 5],
    (ARRAY['appointment', 'question', 'message', 'complaint', 'other'])[1 + k % 5], k % 3 = 0, k % 2 = 0,
    0.0085 * (1 + k % 5), 0.0004 * (1 + k % 7), now() - (k * 7 || ' hours')::interval,
    now() - (k * 7 || ' hours')::interval + interval '3 minutes',
    'Caller asked about opening hours and wants a call back to book a haircut on Friday.',
    'AI: Thanks for calling!\nCaller: Are you open on Friday?\nAI: Yes, 9 to 5.\nCaller: Can you call me back?\nAI: Of course.'
FROM customers c, generate_series(1, 100) AS k;

INSERT INTO call_logs (call_id, speaker, message, timestamp)
SELECT calls.id, CASE WHEN l % 2 = 1 THEN 'ai' ELSE 'caller' END,
    (ARRAY['Thanks for calling!', 'Are you open on Friday?', 'Yes, we are open 9 to 5.', 'Can you call me back?',
           'Of course, the team will call you back.'])[l],
    calls.created_at + (l || ' seconds')::interval
FROM calls, generate_series(1, 5) AS l;

VACUUM ANALYZE;
