// Settings: one form per section (details, hours, receptionist, languages, booking, FAQs,
// notifications, missed and unwanted calls, password), each saved on its own with PUT /api/portal/settings (a partial
// change). Every control's `name` is the API's field path (`business_hours.monday.open`,
// `booking.services[0].minutes`, `faqs[1].question`), so an error lands next to it. After a
// save the section is drawn again from the settings the API answered, so what shows is what
// was stored. The blocked numbers have their own list and routes (blocked-numbers.js).

import { post, put, saveSession, session } from '../api.js';
import { checkbox, failure, field, h, notify, onSubmit, show } from '../dom.js';
import { blockedNumbers } from '../blocked-numbers.js';
import { languageRows } from '../languages.js';
import { focusSection, loadBusiness } from './business.js';

const DAYS = [['monday', 'Monday'], ['tuesday', 'Tuesday'], ['wednesday', 'Wednesday'], ['thursday', 'Thursday'],
  ['friday', 'Friday'], ['saturday', 'Saturday'], ['sunday', 'Sunday']];

const HANDLING = [
  ['collect_details', 'Take the caller’s details; you confirm later'],
  ['callback', 'Promise a call back to arrange it'],
  ['transfer', 'Transfer the caller to you'],
  ['booking_link', 'Point the caller to your online booking page'],
  ['call_back_later', 'Ask the caller to call again in opening hours'],
  ['book', 'Book it in your diary during the call'],
];

/** The diary's rules when the business has not set them (the API's defaults). */
const BOOKING_DEFAULTS = { services: [], slot_step_minutes: 30, min_notice_minutes: 60, horizon_days: 30, capacity: 1, buffer_minutes: 0, sms_confirmations: true, reminder_hours: 24 };

/** Sections in page order: key (for `?section=`), heading, form builder, what to send. */
const SECTIONS = [
  ['details', 'Business details', detailsFields, detailsValues],
  ['hours', 'Opening hours', hoursFields, hoursValues],
  ['receptionist', 'Receptionist', receptionistFields, receptionistValues],
  ['languages', 'Languages', languageFields, languageValues],
  ['booking', 'Services and booking', bookingFields, bookingValues],
  ['faqs', 'Questions and answers', faqFields, faqValues],
  ['notifications', 'Notifications and transfers', notificationFields, notificationValues],
  ['calls', 'Missed and unwanted calls', callFields, callValues],
];

/** The settings screen. `#/settings?section=hours` opens on a section. */
export async function render(view, route) {
  view.replaceChildren(h('p', {}, 'Loading…'));
  let business;
  try {
    business = await loadBusiness();
  } catch (error) {
    show(view, 'Settings', failure(error));
    return;
  }
  show(view, 'Settings',
    h('nav', { class: 'section-links', 'aria-label': 'Settings sections' },
      h('ul', {}, [...SECTIONS.map(([key, title]) => [key, title]), ['blocked', 'Blocked numbers'], ['password', 'Password']].map(([key, title]) =>
        h('li', {}, h('a', { href: `#/settings?section=${key}` }, title))))),
    SECTIONS.map((section) => sectionBlock(section, business)),
    blockedSection(business),
    passwordSection());
  focusSection(view, route);
}

/** A section: its heading and its own form, redrawn from the API's answer after a save. */
function sectionBlock([key, title, fields, values], business) {
  const block = h('section', { class: 'card settings-section', 'aria-labelledby': `settings-${key}` });
  const draw = (customer) => {
    const heading = h('h2', { id: `settings-${key}`, 'data-section': key }, title);
    const form = h('form', { novalidate: true }, fields(customer), h('div', { class: 'actions' }, h('button', { type: 'submit' }, `Save ${title.toLowerCase()}`)));
    onSubmit(form, () => put('/api/portal/settings', values(form)), (answer) => {
      draw(answer.customer);
      // The form was replaced: focus its heading, so keyboard and screen reader stay here.
      const fresh = block.querySelector('h2');
      fresh.setAttribute('tabindex', '-1');
      fresh.focus();
      notify(`${title} saved.`);
    });
    block.replaceChildren(heading, form);
  };
  draw(business);
  return block;
}

/** Trimmed text of a control; `""` clears a field in the API. */
const text = (form, name) => form.elements.namedItem(name).value.trim();

// ---- Business details

function detailsFields(c) {
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  if (!zones.includes(c.timezone)) zones.unshift(c.timezone);
  return [
    field('Business name', 'business_name', { value: c.business_name, required: true, autocomplete: 'organization' }),
    field('Contact name', 'contact_name', { value: c.contact_name, autocomplete: 'name' }),
    field('Business phone', 'phone', { type: 'tel', value: c.phone, autocomplete: 'tel', hint: 'With the country code, for example +1 415 555 0100. Test calls ring this phone.' }),
    field('Type of business', 'business_type', { value: c.business_type, hint: 'For example: hair salon, plumber, dental practice.' }),
    field('Time zone', 'timezone', { control: 'select', value: c.timezone, options: zones.map((zone) => [zone, zone.replace(/_/g, ' ')]) }),
  ];
}

function detailsValues(form) {
  return {
    business_name: text(form, 'business_name'),
    contact_name: text(form, 'contact_name'),
    phone: text(form, 'phone'),
    business_type: text(form, 'business_type'),
    timezone: form.elements.timezone.value,
  };
}

// ---- Opening hours

function hoursFields(c) {
  const hours = c.business_hours || {};
  return [
    h('p', { class: 'hint' }, 'Times as HH:MM. A closing time earlier than the opening time means you close after midnight. A day left empty counts as closed.'),
    DAYS.map(([day, label]) => {
      const given = hours[day] || {};
      return h('fieldset', { class: 'day', name: `business_hours.${day}`, 'data-note': given.note || null },
        h('legend', {}, label),
        checkbox('Closed all day', `business_hours.${day}.closed`, Boolean(given.closed)),
        h('div', { class: 'fields-row' },
          field('Opens', `business_hours.${day}.open`, { type: 'time', value: given.open || '' }),
          field('Closes', `business_hours.${day}.close`, { type: 'time', value: given.close || '' })));
    }),
    field('Holidays and exceptions', 'holiday_hours', { control: 'textarea', value: c.holiday_hours, hint: 'In your words, for example: Closed on Christmas Day and New Year’s Day.' }),
  ];
}

function hoursValues(form) {
  const business_hours = {};
  for (const [day] of DAYS) {
    const open = text(form, `business_hours.${day}.open`);
    const close = text(form, `business_hours.${day}.close`);
    const closed = form.elements.namedItem(`business_hours.${day}.closed`).checked;
    // A day with nothing in it stays unknown (closed); the API refuses a half-filled one.
    // A label the day carries (set elsewhere, e.g. "Christmas Day") is kept as it was.
    const note = form.querySelector(`fieldset[name="business_hours.${day}"]`).dataset.note;
    if (open || close || closed) business_hours[day] = note ? { open, close, closed, note } : { open, close, closed };
  }
  return { business_hours, holiday_hours: text(form, 'holiday_hours') };
}

// ---- What the receptionist says

function receptionistFields(c) {
  return [
    field('Greeting', 'greeting_message', { control: 'textarea', value: c.greeting_message, hint: 'The first thing callers hear, for example: Thanks for calling Bella Hair, how can I help?' }),
    field('Services you offer', 'services_offered', { control: 'textarea', value: c.services_offered, hint: 'What the receptionist tells callers you do.' }),
    field('Prices', 'pricing_info', { control: 'textarea', value: c.pricing_info }),
    field('Anything else the receptionist should know', 'special_instructions', { control: 'textarea', value: c.special_instructions }),
    field('Voice', 'voice_mode', { control: 'select', value: c.voice_mode, options: [['standard', 'Standard (turn by turn)'], ['realtime', 'Realtime (faster, callers can interrupt)']] }),
  ];
}

function receptionistValues(form) {
  return {
    greeting_message: text(form, 'greeting_message'),
    services_offered: text(form, 'services_offered'),
    pricing_info: text(form, 'pricing_info'),
    special_instructions: text(form, 'special_instructions'),
    voice_mode: form.elements.voice_mode.value,
  };
}

// ---- Services and booking rules

function bookingFields(c) {
  const booking = { ...BOOKING_DEFAULTS, ...(c.booking || {}) };
  const rows = h('tbody', {});
  const table = h('table', { class: 'rows services' },
    h('caption', { class: 'visually-hidden' }, 'Services callers can book'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Service'), h('th', { scope: 'col' }, 'Minutes'), h('th', { scope: 'col' }, 'Price'), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Remove')))),
    rows);
  const addRow = (service) => {
    rows.append(serviceRow(service, () => renumber(rows, 'booking.services')));
    renumber(rows, 'booking.services');
  };
  (booking.services.length ? booking.services : [{}]).forEach(addRow);
  const number = (label, name, value, hint, min, max) => field(label, name, { type: 'number', value: value ?? '', hint, min, max, step: 1, inputmode: 'numeric' });
  return [
    field('When a caller wants an appointment', 'appointment_handling', { control: 'select', value: c.appointment_handling, options: HANDLING }),
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

function serviceRow(service, removed) {
  const input = (label, key, value, attributes = {}) => h('td', {},
    h('label', { class: 'cell-label', 'data-label': label }, label),
    h('input', { 'data-key': key, value: value ?? '', ...attributes }));
  const row = h('tr', {},
    input('Service name', 'name', service.name, { type: 'text' }),
    input('Minutes', 'minutes', service.minutes, { type: 'number', min: 1, max: 480, step: 1, inputmode: 'numeric' }),
    input('Price', 'price', service.price, { type: 'text', inputmode: 'decimal' }),
    h('td', {}, h('button', { type: 'button', class: 'secondary', 'data-remove': '' }, 'Remove')));
  row.querySelector('[data-remove]').addEventListener('click', () => {
    const next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    removed();
    (next ? next.querySelector('input') : null)?.focus();
  });
  return row;
}

/**
 * Names each row's controls by its position (`booking.services[2].minutes`), as the API
 * names rows in its errors, and labels them for screen readers ("Minutes, row 3").
 */
function renumber(rows, prefix) {
  [...rows.children].forEach((row, index) => {
    row.querySelectorAll('[data-key]').forEach((control) => {
      const id = `${prefix.replace(/\W/g, '-')}-${index}-${control.dataset.key}`;
      control.name = `${prefix}[${index}].${control.dataset.key}`;
      control.id = id;
      const label = control.previousElementSibling;
      if (label && label.tagName === 'LABEL') {
        label.htmlFor = id;
        label.textContent = `${label.dataset.label}, row ${index + 1}`;
      }
    });
    const remove = row.querySelector('[data-remove]');
    if (remove) remove.setAttribute('aria-label', `Remove row ${index + 1}`);
  });
}

function bookingValues(form) {
  const services = [...form.querySelectorAll('table.services tbody tr')].map((row) => {
    const value = (key) => row.querySelector(`[data-key="${key}"]`).value.trim();
    return { name: value('name'), minutes: value('minutes'), price: value('price') };
  });
  const value = (name) => form.elements.namedItem(name).value.trim();
  return {
    appointment_handling: form.elements.appointment_handling.value,
    booking: {
      services,
      slot_step_minutes: value('booking.slot_step_minutes'),
      min_notice_minutes: value('booking.min_notice_minutes'),
      horizon_days: value('booking.horizon_days'),
      capacity: value('booking.capacity'),
      buffer_minutes: value('booking.buffer_minutes'),
      sms_confirmations: form.elements.namedItem('booking.sms_confirmations').checked,
      reminder_hours: value('booking.reminder_hours'),
    },
  };
}

// ---- FAQs

function faqFields(c) {
  const rows = h('div', { class: 'faq-rows' });
  const addRow = (faq) => {
    rows.append(faqRow(faq, () => renumberFaqs(rows)));
    renumberFaqs(rows);
  };
  (c.faqs && c.faqs.length ? c.faqs : [{}]).forEach(addRow);
  return [
    h('p', { class: 'hint' }, 'Questions callers often ask, with the answer the receptionist should give. Empty rows are left out.'),
    h('fieldset', { class: 'faqs', name: 'faqs' }, h('legend', {}, 'Questions'), rows),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => { addRow({}); rows.lastElementChild.querySelector('input').focus(); } }, 'Add a question')),
  ];
}

function faqRow(faq, removed) {
  const question = h('input', { type: 'text', 'data-key': 'question', value: faq.question || '' });
  const answer = h('textarea', { 'data-key': 'answer' }, faq.answer || '');
  const row = h('div', { class: 'faq-row' },
    h('label', { 'data-label': 'Question' }, 'Question'), question,
    h('label', { 'data-label': 'Answer' }, 'Answer'), answer,
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', 'data-remove': '' }, 'Remove')));
  row.querySelector('[data-remove]').addEventListener('click', () => {
    const next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    removed();
    (next ? next.querySelector('input') : null)?.focus();
  });
  return row;
}

function renumberFaqs(rows) {
  [...rows.children].forEach((row, index) => {
    row.querySelectorAll('[data-key]').forEach((control) => {
      const id = `faqs-${index}-${control.dataset.key}`;
      control.name = `faqs[${index}].${control.dataset.key}`;
      control.id = id;
      const label = control.previousElementSibling;
      label.htmlFor = id;
      label.textContent = `${label.dataset.label} ${index + 1}`;
    });
    row.querySelector('[data-remove]').textContent = `Remove question ${index + 1}`;
  });
}

function faqValues(form) {
  const faqs = [...form.querySelectorAll('.faq-row')].map((row) => ({
    question: row.querySelector('[data-key="question"]').value.trim(),
    answer: row.querySelector('[data-key="answer"]').value.trim(),
  }));
  return { faqs };
}

// ---- Notifications and transfers

function notificationFields(c) {
  return [
    field('Email for call summaries', 'notification_email', { type: 'email', value: c.notification_email, autocomplete: 'email' }),
    field('Mobile for call summaries', 'notification_phone', { type: 'tel', value: c.notification_phone, hint: 'With the country code, for example +1 415 555 0100.' }),
    field('What to tell you about', 'notification_instructions', { control: 'textarea', value: c.notification_instructions, hint: 'Optional, for example: only urgent calls by text.' }),
    field('Transfer number', 'forward_to_number', { type: 'tel', value: c.forward_to_number, hint: 'Callers who ask for a person are transferred here. With the country code.' }),
  ];
}

function notificationValues(form) {
  return {
    notification_email: text(form, 'notification_email'),
    notification_phone: text(form, 'notification_phone'),
    notification_instructions: text(form, 'notification_instructions'),
    forward_to_number: text(form, 'forward_to_number'),
  };
}

// ---- Languages

function languageFields(c) {
  return languageRows(c.languages).element;
}

function languageValues(form) {
  return { languages: [...form.querySelectorAll('fieldset.languages select')].map((select) => select.value) };
}

// ---- Missed and unwanted calls

function callFields(c) {
  return [
    field('Text to a caller who hung up', 'missed_call_text', { control: 'textarea', value: c.missed_call_text || '', hint: 'Sent from your DeskRinger number when a call ends before the caller said anything (at most once a day per number). At most 320 characters. Leave it empty to send none.' }),
    checkbox('Refuse calls whose caller ID failed verification (likely spoofed robocalls)', 'reject_unverified_callers', Boolean(c.reject_unverified_callers)),
  ];
}

function callValues(form) {
  return {
    missed_call_text: text(form, 'missed_call_text'),
    reject_unverified_callers: form.elements.namedItem('reject_unverified_callers').checked,
  };
}

// ---- Blocked numbers

function blockedSection(business) {
  return h('section', { class: 'card settings-section', 'aria-labelledby': 'settings-blocked' },
    h('h2', { id: 'settings-blocked', 'data-section': 'blocked' }, 'Blocked numbers'),
    h('p', { class: 'hint' }, 'Calls from these numbers are refused without being answered, and their texts get no reply. You can also block a caller from a call’s page.'),
    blockedNumbers('/api/portal/blocked-numbers', { timeZone: business.timezone, none: 'You have not blocked any number.' }));
}

// ---- Password

function passwordSection() {
  const form = h('form', { novalidate: true },
    h('input', { type: 'text', name: 'username', autocomplete: 'username', value: session()?.name || '', hidden: true, 'aria-hidden': 'true', tabindex: '-1' }),
    field('Current password', 'current_password', { type: 'password', autocomplete: 'current-password', required: true }),
    field('New password', 'new_password', { type: 'password', autocomplete: 'new-password', required: true, hint: 'At least 8 characters.' }),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Change password')));
  onSubmit(form, () => post('/api/portal/change-password', {
    current_password: form.elements.current_password.value,
    new_password: form.elements.new_password.value,
  }), (answer) => {
    // Older tokens (this one included) stop working: carry on with the fresh one.
    saveSession({ ...session(), token: answer.access_token });
    form.reset();
    form.prepend(h('p', { class: 'success', role: 'status' }, `${answer.message}. Other devices will need to sign in again.`));
  });
  return h('section', { class: 'card settings-section', 'aria-labelledby': 'settings-password' },
    h('h2', { id: 'settings-password', 'data-section': 'password' }, 'Password'), form);
}
