// A business's settings as form controls, and those controls read back into the API's JSON:
// one shape for the owner's Settings screen (owner/settings.js, each section saved on its
// own with PUT /api/portal/settings) and the staff's business page (staff/settings-form.js,
// only the changed fields sent to PUT /api/customers/{id} and .../settings). Each screen
// picks the settings it shows by their API names and keeps its own way of saving.
//
// Every control's `name` is the API's field path (`business_hours.monday.open`,
// `booking.services[0].minutes`, `faqs[1].question`, `languages[2]`), so an error the API
// names in `details` lands next to it; a group (`faqs`, `business_hours.monday`,
// `booking.services`, `languages`) is a fieldset carrying that name.

import { checkbox, field, h } from './dom.js';
import { languageRows } from './languages.js';

const DAYS = [['monday', 'Monday'], ['tuesday', 'Tuesday'], ['wednesday', 'Wednesday'], ['thursday', 'Thursday'],
  ['friday', 'Friday'], ['saturday', 'Saturday'], ['sunday', 'Sunday']];

const HANDLING = [
  ['collect_details', 'Take the caller’s details to confirm later'],
  ['callback', 'Promise a call back to arrange it'],
  ['transfer', 'Transfer the caller to the forward number'],
  ['booking_link', 'Point the caller to the online booking page'],
  ['call_back_later', 'Ask the caller to call again in opening hours'],
  ['book', 'Book it in the diary during the call'],
];

const VOICE_MODES = [['standard', 'Standard (turn by turn)'], ['realtime', 'Realtime (faster, callers can interrupt)']];

/** The diary's rules when the business has not set them (the API's defaults). */
const BOOKING_DEFAULTS = { services: [], slot_step_minutes: 30, min_notice_minutes: 60, horizon_days: 30, capacity: 1, buffer_minutes: 0, sms_confirmations: true, reminder_hours: 24 };

const PHONE_HINT = 'With the country code, for example +1 415 555 0100.';

/** `[zone, name]` options of every IANA time zone the browser knows, `current` included. */
export function timezoneOptions(current) {
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  const all = zones.includes(current) || !current ? zones : [current, ...zones];
  return (all.length ? all : [current || 'UTC']).map((zone) => [zone, zone.replace(/_/g, ' ')]);
}

/** `""` for a setting the business has not given (the API answers null). */
const given = (value) => (value === null || value === undefined ? '' : String(value));

/**
 * Single controls by API name: `(customer, own)` builds it, where `own` is true when the
 * business's owner fills it in (the browser may then offer their own name and phone).
 */
const CONTROLS = {
  business_name: (c, own) => field('Business name', 'business_name', { value: given(c.business_name), required: true, autocomplete: own ? 'organization' : undefined }),
  contact_name: (c, own) => field('Contact name', 'contact_name', { value: given(c.contact_name), autocomplete: own ? 'name' : undefined }),
  phone: (c, own) => field('Business phone', 'phone', { type: 'tel', value: given(c.phone), autocomplete: own ? 'tel' : undefined, hint: `${PHONE_HINT} Test calls ring this phone.` }),
  business_type: (c) => field('Type of business', 'business_type', { value: given(c.business_type), hint: 'For example: hair salon, plumber, dental practice.' }),
  timezone: (c) => field('Time zone', 'timezone', { control: 'select', value: c.timezone, options: timezoneOptions(c.timezone) }),
  greeting_message: (c) => field('Greeting', 'greeting_message', { control: 'textarea', value: given(c.greeting_message), hint: 'The first thing callers hear, for example: Thanks for calling Bella Hair, how can I help?' }),
  services_offered: (c) => field('Services offered', 'services_offered', { control: 'textarea', value: given(c.services_offered), hint: 'What the receptionist tells callers the business does.' }),
  pricing_info: (c) => field('Prices', 'pricing_info', { control: 'textarea', value: given(c.pricing_info) }),
  special_instructions: (c) => field('Anything else the receptionist should know', 'special_instructions', { control: 'textarea', value: given(c.special_instructions) }),
  voice_mode: (c) => field('Voice', 'voice_mode', { control: 'select', value: c.voice_mode, options: VOICE_MODES }),
  holiday_hours: (c) => field('Holidays and exceptions', 'holiday_hours', { control: 'textarea', value: given(c.holiday_hours), hint: 'As the receptionist should say it, for example: Closed on Christmas Day and New Year’s Day.' }),
  appointment_handling: (c) => field('When a caller wants an appointment', 'appointment_handling', { control: 'select', value: c.appointment_handling, options: HANDLING }),
  notification_email: (c, own) => field('Email for call summaries', 'notification_email', { type: 'email', value: given(c.notification_email), autocomplete: own ? 'email' : undefined }),
  notification_phone: (c) => field('Mobile for call summaries', 'notification_phone', { type: 'tel', value: given(c.notification_phone), hint: PHONE_HINT }),
  notification_instructions: (c) => field('What to report after a call', 'notification_instructions', { control: 'textarea', value: given(c.notification_instructions), hint: 'Optional, for example: only urgent calls by text.' }),
  forward_to_number: (c) => field('Forward number', 'forward_to_number', { type: 'tel', value: given(c.forward_to_number), hint: `Callers who ask for a person are transferred here. ${PHONE_HINT}` }),
  missed_call_text: (c) => field('Text to a caller who hung up', 'missed_call_text', { control: 'textarea', value: given(c.missed_call_text), hint: 'Sent from the DeskRinger number when a call ends before the caller said anything (at most once a day per number). At most 320 characters. Leave it empty to send none.' }),
  reject_unverified_callers: (c) => checkbox('Refuse calls whose caller ID failed verification (likely spoofed robocalls)', 'reject_unverified_callers', Boolean(c.reject_unverified_callers)),
};

/** Groups of controls by API name: how to build them and how to read them back. */
const GROUPS = {
  business_hours: { build: hoursFields, read: hoursValue },
  booking: { build: bookingFields, read: bookingValue },
  faqs: { build: faqFields, read: faqsValue },
  languages: { build: (c) => languageRows(c.languages).element, read: languagesValue },
};

/**
 * The controls of the settings `names` (API field names, in the order shown) filled from
 * `customer`. `own` is true on the owner's own screen (lets the browser offer their details).
 */
export function settingsFields(customer, names, { own = false } = {}) {
  return names.map((name) => (GROUPS[name] ? GROUPS[name].build(customer) : CONTROLS[name](customer, own)));
}

/**
 * The settings `names` as they stand in `form`, as the API takes them: text trimmed (`""`
 * clears a setting), checkboxes as booleans, rows as arrays in their order on the page.
 */
export function settingsValues(form, names) {
  return Object.fromEntries(names.map((name) => [name, GROUPS[name] ? GROUPS[name].read(form) : controlValue(form, name)]));
}

function controlValue(form, name) {
  const control = form.querySelector(`[name="${CSS.escape(name)}"]`);
  return control.type === 'checkbox' ? control.checked : control.value.trim();
}

// ---- Opening hours

function hoursFields(c) {
  const hours = c.business_hours || {};
  return [
    h('p', { class: 'hint' }, 'Times as HH:MM. A closing time earlier than the opening time means closing after midnight. A day left empty counts as closed; a day marked closed keeps its times for later.'),
    DAYS.map(([day, label]) => {
      const stored = hours[day] || {};
      return h('fieldset', { class: 'day', name: `business_hours.${day}`, 'data-note': stored.note || null },
        h('legend', {}, label),
        checkbox('Closed all day', `business_hours.${day}.closed`, Boolean(stored.closed)),
        h('div', { class: 'fields-row' },
          field('Opens', `business_hours.${day}.open`, { type: 'time', value: stored.open || '' }),
          field('Closes', `business_hours.${day}.close`, { type: 'time', value: stored.close || '' })));
    }),
  ];
}

function hoursValue(form) {
  const hours = {};
  for (const [day] of DAYS) {
    const open = controlValue(form, `business_hours.${day}.open`);
    const close = controlValue(form, `business_hours.${day}.close`);
    const closed = controlValue(form, `business_hours.${day}.closed`);
    // A day with nothing in it stays unknown (closed); the API refuses a half-filled one.
    // A label the day carries (set elsewhere, e.g. "Christmas Day") is kept as it was.
    const note = form.querySelector(`fieldset[name="business_hours.${day}"]`).dataset.note;
    if (open || close || closed) hours[day] = note ? { open, close, closed, note } : { open, close, closed };
  }
  return hours;
}

// ---- Services and booking rules

function bookingFields(c) {
  const booking = { ...BOOKING_DEFAULTS, ...(c.booking || {}) };
  const rows = h('tbody', {});
  const table = h('table', { class: 'rows services' },
    h('caption', { class: 'visually-hidden' }, 'Services callers can book'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Service'), h('th', { scope: 'col' }, 'Minutes'), h('th', { scope: 'col' }, 'Price'), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Remove')))),
    rows);
  const renumber = () => renumberRows(rows, 'booking.services', (label, index) => `${label}, row ${index + 1}`, (index) => ({ 'aria-label': `Remove row ${index + 1}` }));
  const addRow = (service) => {
    rows.append(removableRow(serviceRow(service), renumber));
    renumber();
  };
  (booking.services.length ? booking.services : [{}]).forEach(addRow);
  const number = (label, name, value, hint, min, max) => field(label, name, { type: 'number', value: value ?? '', hint, min, max, step: 1, inputmode: 'numeric' });
  return [
    h('fieldset', { name: 'booking.services' },
      h('legend', {}, 'Services callers can book'),
      h('p', { class: 'hint' }, 'The length decides which times are offered. The price is optional; the receptionist tells it when asked.'),
      h('div', { class: 'table-wrap' }, table),
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => { addRow({}); rows.lastElementChild.querySelector('input').focus(); } }, 'Add a service'))),
    h('h3', {}, 'Booking rules'),
    field('Offer start times every', 'booking.slot_step_minutes', { control: 'select', value: booking.slot_step_minutes, options: [[15, '15 minutes'], [20, '20 minutes'], [30, '30 minutes'], [60, '60 minutes']] }),
    number('Least notice, in minutes', 'booking.min_notice_minutes', booking.min_notice_minutes, 'How soon before the start a booking can be made (0 to 43200).', 0, 43200),
    number('Days ahead that can be booked', 'booking.horizon_days', booking.horizon_days, 'Today included (1 to 365).', 1, 365),
    number('Appointments at the same time', 'booking.capacity', booking.capacity, 'Chairs, rooms or staff (1 to 50).', 1, 50),
    number('Minutes kept free after each appointment', 'booking.buffer_minutes', booking.buffer_minutes, '0 to 240.', 0, 240),
    checkbox('Text the caller a confirmation', 'booking.sms_confirmations', booking.sms_confirmations),
    number('Reminder text, hours before', 'booking.reminder_hours', booking.reminder_hours, '0 sends no reminder (at most 168).', 0, 168),
  ];
}

function serviceRow(service) {
  const input = (label, key, value, attributes = {}) => h('td', {},
    h('label', { class: 'cell-label', 'data-label': label }, label),
    h('input', { 'data-key': key, value: value ?? '', ...attributes }));
  return h('tr', {},
    input('Service name', 'name', service.name, { type: 'text' }),
    input('Minutes', 'minutes', service.minutes, { type: 'number', min: 1, max: 480, step: 1, inputmode: 'numeric' }),
    input('Price', 'price', service.price, { type: 'text', inputmode: 'decimal' }),
    h('td', {}, h('button', { type: 'button', class: 'secondary', 'data-remove': '' }, 'Remove')));
}

function bookingValue(form) {
  const booking = { services: rowValues(form, 'booking.services') };
  for (const rule of ['slot_step_minutes', 'min_notice_minutes', 'horizon_days', 'capacity', 'buffer_minutes', 'sms_confirmations', 'reminder_hours']) {
    booking[rule] = controlValue(form, `booking.${rule}`);
  }
  return booking;
}

// ---- FAQs

function faqFields(c) {
  const rows = h('div', { class: 'faq-rows' });
  const renumber = () => renumberRows(rows, 'faqs', (label, index) => `${label} ${index + 1}`, (index) => ({ text: `Remove question ${index + 1}` }));
  const addRow = (faq) => {
    rows.append(removableRow(faqRow(faq), renumber));
    renumber();
  };
  (c.faqs && c.faqs.length ? c.faqs : [{}]).forEach(addRow);
  return h('fieldset', { class: 'faqs', name: 'faqs' }, h('legend', {}, 'Questions callers ask'),
    h('p', { class: 'hint' }, 'Questions callers often ask, with the answer the receptionist should give. Empty rows are left out.'),
    rows,
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => { addRow({}); rows.lastElementChild.querySelector('input').focus(); } }, 'Add a question')));
}

function faqRow(faq) {
  return h('div', { class: 'faq-row' },
    h('label', { 'data-label': 'Question' }, 'Question'), h('input', { type: 'text', 'data-key': 'question', value: faq.question || '' }),
    h('label', { 'data-label': 'Answer' }, 'Answer'), h('textarea', { 'data-key': 'answer' }, faq.answer || ''),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', 'data-remove': '' }, 'Remove')));
}

function faqsValue(form) {
  return rowValues(form, 'faqs');
}

// ---- Languages

function languagesValue(form) {
  return [...form.querySelectorAll('fieldset.languages select')].map((select) => select.value);
}

// ---- Rows (services, FAQs)

/** Wires a row's remove button: the row goes, the rest are renumbered, focus stays near. */
function removableRow(row, renumber) {
  row.querySelector('[data-remove]').addEventListener('click', () => {
    const next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    renumber();
    (next ? next.querySelector('input') : null)?.focus();
  });
  return row;
}

/**
 * Names each row's controls by its position (`booking.services[2].minutes`), as the API
 * names rows in its errors, labels them for screen readers (`labelOf(label, index)`, like
 * "Minutes, row 3") and names the remove button (`removeOf(index)`: its text or aria-label).
 */
function renumberRows(rows, prefix, labelOf, removeOf) {
  [...rows.children].forEach((row, index) => {
    row.querySelectorAll('[data-key]').forEach((control) => {
      const id = `${prefix.replace(/\W/g, '-')}-${index}-${control.dataset.key}`;
      control.name = `${prefix}[${index}].${control.dataset.key}`;
      control.id = id;
      const label = control.previousElementSibling;
      if (label && label.tagName === 'LABEL') {
        label.htmlFor = id;
        label.textContent = labelOf(label.dataset.label, index);
      }
    });
    const remove = row.querySelector('[data-remove]');
    const { text, ...attributes } = removeOf(index);
    if (text) remove.textContent = text;
    for (const [key, value] of Object.entries(attributes)) remove.setAttribute(key, value);
  });
}

/** Each row of the group `prefix` as `{key: trimmed value}`, in page order. */
function rowValues(form, prefix) {
  const rows = form.querySelector(`fieldset[name="${prefix}"]`).querySelectorAll('.faq-row, tbody > tr');
  return [...rows].map((row) => Object.fromEntries([...row.querySelectorAll('[data-key]')].map((control) => [control.dataset.key, control.value.trim()])));
}
