// Settings: one form per section (details, hours, receptionist, languages, booking, FAQs,
// notifications, missed and unwanted calls, password), each saved on its own with PUT /api/portal/settings (a partial
// change). The controls and reading them back come from settings-fields.js (shared with the
// staff's form); each control's `name` is the API's field path, so an error lands next to it. After a
// save the section is drawn again from the settings the API answered, so what shows is what
// was stored. The blocked numbers have their own list and routes (blocked-numbers.js).

import { post, put, saveSession, session } from '../api.js';
import { failure, field, h, notify, onSubmit, show } from '../dom.js';
import { blockedNumbers } from '../blocked-numbers.js';
import { settingsFields, settingsValues } from '../settings-fields.js';
import { focusSection, loadBusiness } from './business.js';

/** Sections in page order: key (for `?section=`), heading, the settings (API names) it saves. */
const SECTIONS = [
  ['details', 'Business details', ['business_name', 'contact_name', 'phone', 'business_type', 'timezone']],
  ['hours', 'Opening hours', ['business_hours', 'holiday_hours']],
  ['receptionist', 'Receptionist', ['greeting_message', 'services_offered', 'pricing_info', 'special_instructions', 'voice_mode']],
  ['languages', 'Languages', ['languages']],
  ['booking', 'Services and booking', ['appointment_handling', 'booking']],
  ['faqs', 'Questions and answers', ['faqs']],
  ['notifications', 'Notifications and transfers', ['notification_email', 'notification_phone', 'notification_instructions', 'forward_to_number']],
  ['calls', 'Missed and unwanted calls', ['missed_call_text', 'reject_unverified_callers']],
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
function sectionBlock([key, title, names], business) {
  const block = h('section', { class: 'card settings-section', 'aria-labelledby': `settings-${key}` });
  const draw = (customer) => {
    const heading = h('h2', { id: `settings-${key}`, 'data-section': key }, title);
    const form = h('form', { novalidate: true }, settingsFields(customer, names, { own: true }), h('div', { class: 'actions' }, h('button', { type: 'submit' }, `Save ${title.toLowerCase()}`)));
    onSubmit(form, () => put('/api/portal/settings', settingsValues(form, names)), (answer) => {
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
