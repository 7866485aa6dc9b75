// A business's settings as staff edit them, in two forms because the API has two routes:
// - details (PUT /api/customers/{id}): name, contact, email, phones, subscription, trial end;
// - receptionist settings (PUT /api/customers/{id}/settings): hours, greeting, services and
//   booking rules, FAQs, voice mode, forward number, languages, missed-call text, refusing
//   unverified callers, instructions (RECEPTIONIST_SETTINGS in
//   src/http/customers/patch.rs).
// Every control's `name` is the API's field path (`business_hours.monday.open`,
// `faqs[1].question`, `booking.services[0].minutes`), so an error lands next to it; a group
// (`faqs`, `business_hours.monday`, `booking.services`) is a fieldset carrying that name.
//
// Only the fields that were changed are sent: sending every field would recompile the
// receptionist's instructions on each save and so drop instructions written by hand.

import { put } from '../api.js';
import { checkbox, field, h, notify, onSubmit } from '../dom.js';
import { dateIn, instantOf } from '../format.js';
import { languageRows } from '../languages.js';
import { SUBSCRIPTION_STATUSES, statusText } from './common.js';

const DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
const HANDLING = [
  ['collect_details', 'Take the caller\'s details for staff to confirm'],
  ['callback', 'Promise a call back'],
  ['transfer', 'Transfer the caller to the forward number'],
  ['booking_link', 'Point the caller to the online booking page'],
  ['call_back_later', 'Ask the caller to call back during opening hours'],
  ['book', 'Book appointments in the diary during the call'],
];
const VOICE_MODES = [['standard', 'Standard (a few seconds a turn)'], ['realtime', 'Realtime (fast, can be interrupted)']];
const SLOT_STEPS = ['15', '20', '30', '60'];
const BOOKING_DEFAULTS = { slot_step_minutes: 30, min_notice_minutes: 60, horizon_days: 30, capacity: 1, buffer_minutes: 0, sms_confirmations: true, reminder_hours: 24 };

/** `[name, name]` options of every IANA time zone the browser knows, `current` included. */
export function timezoneOptions(current) {
  const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  const all = zones.includes(current) || !current ? zones : [current, ...zones];
  return (all.length ? all : [current || 'UTC']).map((zone) => [zone, zone.replace(/_/g, ' ')]);
}

const text = (value) => (value === null || value === undefined ? '' : String(value));

/** Top-level fields whose value differs from the form as it was first drawn. */
function changed(initial, current) {
  const body = {};
  for (const [key, value] of Object.entries(current)) {
    if (JSON.stringify(value) !== JSON.stringify(initial[key])) body[key] = value;
  }
  return body;
}

/** `YYYY-MM-DDTHH:MM` of an instant on the business's wall clock, for a datetime-local input. */
function localInput(iso, timeZone) {
  if (!iso) return '';
  const clock = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(iso));
  return `${dateIn(iso, timeZone)}T${clock}`;
}

/**
 * Wires a settings form: `read()` gives the body; on submit only the changed fields go to
 * `path`; `saved(customer, message)` runs with the answer.
 */
function wire(form, path, read, saved) {
  let initial = read();
  onSubmit(form, async () => {
    const body = changed(initial, read());
    if (!Object.keys(body).length) return null;
    return put(path, body);
  }, (answer) => {
    if (!answer) {
      notify('Nothing was changed.');
      return;
    }
    initial = read();
    notify(answer.message || 'Saved.');
    saved(answer.customer);
  });
  return form;
}

/** The business details form (PUT /api/customers/{id}). */
export function detailsForm(customer, saved) {
  const zone = customer.timezone;
  const form = h('form', { class: 'staff-settings', novalidate: true },
    field('Business name', 'business_name', { value: customer.business_name, required: true }),
    field('Contact name', 'contact_name', { value: text(customer.contact_name) }),
    field('Owner email', 'email', { type: 'email', value: customer.email, required: true, hint: 'The owner signs in to the portal with it.' }),
    field('Business phone', 'phone', { type: 'tel', value: text(customer.phone), hint: 'E.164, like +14155550123. The test call rings it.' }),
    field('Notification email', 'notification_email', { type: 'email', value: text(customer.notification_email) }),
    field('Notification phone', 'notification_phone', { type: 'tel', value: text(customer.notification_phone) }),
    field('Subscription status', 'subscription_status', { control: 'select', value: customer.subscription_status, options: SUBSCRIPTION_STATUSES.map((s) => [s, statusText(s)]) }),
    field('Plan', 'subscription_tier', { control: 'select', value: customer.subscription_tier, options: [['basic', 'Basic'], ['premium', 'Premium']] }),
    field('Trial ends', 'trial_ends_at', { type: 'datetime-local', value: localInput(customer.trial_ends_at, zone), hint: `In the business's time zone (${zone}). Empty for none.` }),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save details')));
  const read = () => {
    const value = (name) => form.elements[name].value;
    const trial = value('trial_ends_at');
    const [date, clock] = trial.split('T');
    return {
      business_name: value('business_name'),
      contact_name: value('contact_name'),
      email: value('email'),
      phone: value('phone'),
      notification_email: value('notification_email'),
      notification_phone: value('notification_phone'),
      subscription_status: value('subscription_status'),
      subscription_tier: value('subscription_tier'),
      trial_ends_at: trial ? instantOf(date, clock, zone) : null,
    };
  };
  return wire(form, `/api/customers/${customer.id}`, read, saved);
}

function dayRow(day, hours) {
  const closed = !hours || hours.closed === true || (!hours.open && !hours.close);
  const name = `business_hours.${day}`;
  const title = day.charAt(0).toUpperCase() + day.slice(1);
  return h('fieldset', { class: 'staff-day', name, 'data-day': day },
    h('legend', {}, title),
    h('div', { class: 'staff-day-fields' },
      field('Opens', `${name}.open`, { type: 'time', value: text(hours && hours.open) }),
      field('Closes', `${name}.close`, { type: 'time', value: text(hours && hours.close) }),
      checkbox(`Closed on ${title}`, `${name}.closed`, closed)));
}

function rowList(container, makeRow, renumber) {
  return {
    add(values, focus) {
      const row = makeRow(values, () => {
        row.remove();
        renumber();
      });
      container.append(row);
      renumber();
      if (focus) row.querySelector('input, textarea')?.focus();
    },
  };
}

function faqRow(values, remove) {
  const row = h('fieldset', { class: 'staff-row' },
    h('legend', {}, 'Question'),
    field('Question', 'faqs[].question', { value: text(values.question) }),
    field('Answer', 'faqs[].answer', { control: 'textarea', value: text(values.answer) }),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: remove }, 'Remove this question')));
  return row;
}

function serviceRow(values, remove) {
  return h('fieldset', { class: 'staff-row' },
    h('legend', {}, 'Service'),
    h('div', { class: 'staff-row-fields' },
      field('Name', 'booking.services[].name', { value: text(values.name) }),
      field('Minutes', 'booking.services[].minutes', { type: 'number', value: text(values.minutes), inputmode: 'numeric', min: 1, max: 480 }),
      field('Price', 'booking.services[].price', { type: 'number', value: text(values.price), inputmode: 'decimal', min: 0, step: '0.01', hint: 'Empty when not said.' })),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: remove }, 'Remove this service')));
}

/** Gives each row's controls the path of its position (`faqs[2].answer`) and a numbered legend. */
function numberRows(container, noun) {
  [...container.children].forEach((row, index) => {
    row.querySelector('legend').textContent = `${noun} ${index + 1}`;
    row.querySelectorAll('[name]').forEach((control) => {
      control.name = control.name.replace(/\[\d*\]/, `[${index}]`);
    });
    row.querySelector('button').textContent = `Remove ${noun.toLowerCase()} ${index + 1}`;
  });
}

/** The receptionist settings form (PUT /api/customers/{id}/settings). */
export function receptionistForm(customer, saved) {
  const booking = { ...BOOKING_DEFAULTS, services: [], ...(customer.booking || {}) };
  const hours = customer.business_hours || {};

  const faqs = h('div', { class: 'staff-rows' });
  const faqList = rowList(faqs, faqRow, () => numberRows(faqs, 'Question'));
  (customer.faqs || []).forEach((faq) => faqList.add(faq));

  const services = h('div', { class: 'staff-rows' });
  const serviceList = rowList(services, serviceRow, () => numberRows(services, 'Service'));
  booking.services.forEach((service) => serviceList.add(service));

  const languages = languageRows(customer.languages, { hint: 'The first is the main one: the greeting is in it and the others are offered. At most 5.' });

  const instructions = field('Receptionist instructions', 'ai_instructions', {
    control: 'textarea', value: text(customer.ai_instructions),
    hint: 'Built from the settings above whenever they change, unless you edit them here (then yours are kept).',
  });
  instructions.querySelector('textarea').classList.add('staff-tall');

  const form = h('form', { class: 'staff-settings', novalidate: true },
    h('fieldset', {}, h('legend', {}, 'The business'),
      field('Kind of business', 'business_type', { value: text(customer.business_type), hint: 'Like "hair salon" or "dental practice".' }),
      field('Time zone', 'timezone', { control: 'select', value: customer.timezone, options: timezoneOptions(customer.timezone) }),
      field('Greeting', 'greeting_message', { control: 'textarea', value: text(customer.greeting_message), hint: 'What the receptionist says first.' }),
      field('Services offered', 'services_offered', { control: 'textarea', value: text(customer.services_offered) }),
      field('Prices', 'pricing_info', { control: 'textarea', value: text(customer.pricing_info) }),
      field('Special instructions', 'special_instructions', { control: 'textarea', value: text(customer.special_instructions) })),
    h('fieldset', { name: 'business_hours' }, h('legend', {}, 'Opening hours'),
      h('p', { class: 'hint' }, 'A day marked closed keeps its times for later.'),
      DAYS.map((day) => dayRow(day, hours[day])),
      field('Holidays and exceptions', 'holiday_hours', { control: 'textarea', value: text(customer.holiday_hours), hint: 'As the receptionist should say it, like "Closed on Christmas Day".' })),
    h('fieldset', {}, h('legend', {}, 'Calls'),
      field('Appointments', 'appointment_handling', { control: 'select', value: customer.appointment_handling, options: HANDLING }),
      field('Forward number', 'forward_to_number', { type: 'tel', value: text(customer.forward_to_number), hint: 'E.164. Callers who ask for a person are transferred here.' }),
      field('Voice', 'voice_mode', { control: 'select', value: customer.voice_mode, options: VOICE_MODES }),
      field('What to tell the owner after a call', 'notification_instructions', { control: 'textarea', value: text(customer.notification_instructions) }),
      field('Missed-call text', 'missed_call_text', { control: 'textarea', value: text(customer.missed_call_text), hint: 'Texted to a caller who hung up before saying anything. At most 320 characters; empty sends none.' }),
      checkbox('Refuse calls whose caller ID failed verification (SHAKEN/STIR)', 'reject_unverified_callers', Boolean(customer.reject_unverified_callers))),
    languages.element,
    h('fieldset', { name: 'booking' }, h('legend', {}, 'Booking'),
      h('fieldset', { name: 'booking.services' }, h('legend', {}, 'Services callers can book'),
        services,
        h('button', { type: 'button', class: 'secondary', onclick: () => serviceList.add({}, true) }, 'Add a service')),
      h('div', { class: 'grid staff-compact' },
        field('Start times every', 'booking.slot_step_minutes', { control: 'select', value: String(booking.slot_step_minutes), options: SLOT_STEPS.map((step) => [step, `${step} minutes`]) }),
        field('Least notice (minutes)', 'booking.min_notice_minutes', { type: 'number', value: text(booking.min_notice_minutes), inputmode: 'numeric', min: 0 }),
        field('Days ahead that can be booked', 'booking.horizon_days', { type: 'number', value: text(booking.horizon_days), inputmode: 'numeric', min: 1, max: 365 }),
        field('Appointments at the same time', 'booking.capacity', { type: 'number', value: text(booking.capacity), inputmode: 'numeric', min: 1, max: 50 }),
        field('Minutes kept free after each', 'booking.buffer_minutes', { type: 'number', value: text(booking.buffer_minutes), inputmode: 'numeric', min: 0, max: 240 }),
        field('Reminder text, hours before (0 for none)', 'booking.reminder_hours', { type: 'number', value: text(booking.reminder_hours), inputmode: 'numeric', min: 0, max: 168 })),
      checkbox('Text the caller a confirmation', 'booking.sms_confirmations', booking.sms_confirmations)),
    h('fieldset', { name: 'faqs' }, h('legend', {}, 'Questions callers ask'),
      faqs,
      h('button', { type: 'button', class: 'secondary', onclick: () => faqList.add({}, true) }, 'Add a question')),
    h('fieldset', {}, h('legend', {}, 'Instructions'),
      instructions,
      checkbox('Rebuild the instructions from the settings (drops any written by hand)', 'rebuild_instructions', false)),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save receptionist settings')));

  const value = (name) => form.querySelector(`[name="${CSS.escape(name)}"]`).value;
  const checked = (name) => form.querySelector(`[name="${CSS.escape(name)}"]`).checked;
  const rows = (container, read) => [...container.children].map((row) => {
    const controls = row.querySelectorAll('input, textarea');
    return read(controls);
  });
  const read = () => {
    const body = {
      business_type: value('business_type'),
      timezone: value('timezone'),
      greeting_message: value('greeting_message'),
      services_offered: value('services_offered'),
      pricing_info: value('pricing_info'),
      special_instructions: value('special_instructions'),
      business_hours: Object.fromEntries(DAYS.map((day) => [day, {
        open: value(`business_hours.${day}.open`),
        close: value(`business_hours.${day}.close`),
        closed: checked(`business_hours.${day}.closed`),
      }])),
      holiday_hours: value('holiday_hours'),
      appointment_handling: value('appointment_handling'),
      forward_to_number: value('forward_to_number'),
      voice_mode: value('voice_mode'),
      notification_instructions: value('notification_instructions'),
      missed_call_text: value('missed_call_text'),
      reject_unverified_callers: checked('reject_unverified_callers'),
      languages: languages.read(),
      booking: {
        services: rows(services, ([name, minutes, price]) => ({ name: name.value, minutes: minutes.value, price: price.value })),
        slot_step_minutes: value('booking.slot_step_minutes'),
        min_notice_minutes: value('booking.min_notice_minutes'),
        horizon_days: value('booking.horizon_days'),
        capacity: value('booking.capacity'),
        buffer_minutes: value('booking.buffer_minutes'),
        sms_confirmations: checked('booking.sms_confirmations'),
        reminder_hours: value('booking.reminder_hours'),
      },
      faqs: rows(faqs, ([question, answer]) => ({ question: question.value, answer: answer.value })),
      ai_instructions: value('ai_instructions'),
    };
    // `null` asks the server to compile them afresh; the box is not remembered as "changed".
    if (checked('rebuild_instructions')) body.ai_instructions = null;
    return body;
  };
  return wire(form, `/api/customers/${customer.id}/settings`, read, saved);
}
