// A business's settings as staff edit them, in two forms because the API has two routes:
// - details (PUT /api/customers/{id}): name, contact, email, phones, subscription, trial end;
// - receptionist settings (PUT /api/customers/{id}/settings): hours, greeting, services and
//   booking rules, FAQs, voice mode, forward number, languages, missed-call text, refusing
//   unverified callers, instructions (RECEPTIONIST_SETTINGS in
//   src/http/customers/patch.rs).
// The controls the owner's Settings screen shares, and reading them back, come from
// settings-fields.js; every control's `name` is the API's field path, so an error lands next
// to it.
//
// Only the fields that were changed are sent: sending every field would recompile the
// receptionist's instructions on each save and so drop instructions written by hand.

import { put } from '../api.js';
import { checkbox, field, h, notify, onSubmit } from '../dom.js';
import { dateIn, instantOf } from '../format.js';
import { settingsFields, settingsValues } from '../settings-fields.js';
import { SUBSCRIPTION_STATUSES, statusText } from './common.js';

/** The shared settings on the details form (PUT /api/customers/{id}), in page order. */
const DETAILS = ['business_name', 'contact_name', 'phone', 'notification_email', 'notification_phone'];
const STAFF_DETAILS = ['email', 'subscription_status', 'subscription_tier'];
/** The receptionist settings (PUT /api/customers/{id}/settings) by fieldset, in page order. */
const BUSINESS = ['business_type', 'timezone', 'greeting_message', 'services_offered', 'pricing_info', 'special_instructions'];
const HOURS = ['business_hours', 'holiday_hours'];
const CALLS = ['appointment_handling', 'forward_to_number', 'voice_mode', 'notification_instructions', 'missed_call_text', 'reject_unverified_callers'];
const BOOKING = ['booking'];
const RECEPTIONIST = [...BUSINESS, ...HOURS, ...CALLS, 'languages', ...BOOKING, 'faqs'];

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
  const [name, contact, ...reach] = settingsFields(customer, DETAILS);
  const form = h('form', { class: 'staff-settings', novalidate: true },
    name, contact,
    field('Owner email', 'email', { type: 'email', value: customer.email, required: true, hint: 'The owner signs in to the portal with it.' }),
    reach,
    field('Subscription status', 'subscription_status', { control: 'select', value: customer.subscription_status, options: SUBSCRIPTION_STATUSES.map((s) => [s, statusText(s)]) }),
    field('Plan', 'subscription_tier', { control: 'select', value: customer.subscription_tier, options: [['basic', 'Basic'], ['premium', 'Premium']] }),
    field('Trial ends', 'trial_ends_at', { type: 'datetime-local', value: localInput(customer.trial_ends_at, zone), hint: `In the business's time zone (${zone}). Empty for none.` }),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save details')));
  const read = () => {
    const trial = form.elements.trial_ends_at.value;
    const [date, clock] = trial.split('T');
    return {
      ...settingsValues(form, [...DETAILS, ...STAFF_DETAILS]),
      trial_ends_at: trial ? instantOf(date, clock, zone) : null,
    };
  };
  return wire(form, `/api/customers/${customer.id}`, read, saved);
}

/** The receptionist settings form (PUT /api/customers/{id}/settings). */
export function receptionistForm(customer, saved) {
  const instructions = field('Receptionist instructions', 'ai_instructions', {
    control: 'textarea', value: text(customer.ai_instructions),
    hint: 'Built from the settings above whenever they change, unless you edit them here (then yours are kept).',
  });
  instructions.querySelector('textarea').classList.add('staff-tall');

  const group = (legend, names, attributes = {}) => h('fieldset', attributes, h('legend', {}, legend), settingsFields(customer, names));
  const form = h('form', { class: 'staff-settings', novalidate: true },
    group('The business', BUSINESS),
    group('Opening hours', HOURS, { name: 'business_hours' }),
    group('Calls', CALLS),
    settingsFields(customer, ['languages']),
    group('Booking', BOOKING, { name: 'booking' }),
    settingsFields(customer, ['faqs']),
    h('fieldset', {}, h('legend', {}, 'Instructions'),
      instructions,
      checkbox('Rebuild the instructions from the settings (drops any written by hand)', 'rebuild_instructions', false)),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save receptionist settings')));

  const read = () => ({
    ...settingsValues(form, RECEPTIONIST),
    // `null` asks the server to compile them afresh; the box is not remembered as "changed".
    ai_instructions: form.elements.rebuild_instructions.checked ? null : form.elements.ai_instructions.value,
  });
  return wire(form, `/api/customers/${customer.id}/settings`, read, saved);
}
