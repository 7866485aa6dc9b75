-- A business's hours, holiday hours and FAQs become `json` (the text as written) instead of
-- `jsonb`. The server writes and reads these documents whole and never queries inside
-- them; `json` keeps the order the server wrote (Monday first, as people read a week) and
-- lets responses pass the stored text through without rebuilding it.
ALTER TABLE customers
    DROP CONSTRAINT customers_business_hours_is_object,
    DROP CONSTRAINT customers_holiday_hours_is_object,
    DROP CONSTRAINT customers_faqs_is_array;

ALTER TABLE customers
    ALTER COLUMN business_hours TYPE JSON USING business_hours::json,
    ALTER COLUMN holiday_hours TYPE JSON USING holiday_hours::json,
    ALTER COLUMN faqs TYPE JSON USING faqs::json;

-- `jsonb` had sorted the days by name length; put them back in week order.
UPDATE customers
SET business_hours = json_strip_nulls(json_build_object(
    'monday', business_hours -> 'monday', 'tuesday', business_hours -> 'tuesday',
    'wednesday', business_hours -> 'wednesday', 'thursday', business_hours -> 'thursday',
    'friday', business_hours -> 'friday', 'saturday', business_hours -> 'saturday',
    'sunday', business_hours -> 'sunday'))
WHERE business_hours IS NOT NULL;

ALTER TABLE customers
    ADD CONSTRAINT customers_business_hours_is_object
        CHECK (business_hours IS NULL OR json_typeof(business_hours) = 'object'),
    ADD CONSTRAINT customers_holiday_hours_is_object
        CHECK (holiday_hours IS NULL OR json_typeof(holiday_hours) = 'object'),
    ADD CONSTRAINT customers_faqs_is_array CHECK (faqs IS NULL OR json_typeof(faqs) = 'array');
