// The business's calendars: the private feed URL (copy, rotate) and the connected calendar
// (Google through its consent page, or Cal.com with an API key and an event type per
// service): its state, choosing Google calendars, and disconnecting.

import { del, get, post, put } from '../../api.js';
import { failure, field, h, notify, onSubmit } from '../../dom.js';
import { dateTime } from '../../format.js';

/** What Google's callback's `reason` means, for people. */
const CALLBACK_REASONS = {
  denied: 'Google Calendar was not connected: access was not allowed on Google\'s page.',
  invalid_state: 'Google Calendar was not connected: the link had expired or was not for this business. Try again.',
  not_configured: 'Google Calendar is not configured on this server.',
  google_error: 'Google Calendar was not connected: Google answered with an error. Try again.',
  no_refresh_token: 'Google Calendar was not connected: Google did not give lasting access. Remove DeskRinger at https://myaccount.google.com/permissions, then connect again.',
};

/**
 * The message for Google's return (`?calendar=connected` or `?calendar=error&reason=...`),
 * or null; the query is then removed from the address (`route` is the screen's route).
 */
export function callbackResult(route) {
  // In the page's query (`/app/?calendar=connected#/appointments`), or, from a return
  // address that already holds the route, in the route's query.
  const inPage = new URLSearchParams(location.search);
  const query = inPage.has('calendar') ? inPage : route.query;
  const outcome = query.get('calendar');
  if (!outcome) return null;
  const rest = new URLSearchParams(route.query);
  rest.delete('calendar');
  rest.delete('reason');
  const hash = `#/${route.parts.join('/')}${rest.toString() ? `?${rest}` : ''}`;
  history.replaceState(history.state, '', `${location.pathname}${hash}`);
  if (outcome === 'connected') return { ok: true, text: 'Google Calendar is connected.' };
  const reason = query.get('reason') || '';
  return { ok: false, text: CALLBACK_REASONS[reason] || `Google Calendar was not connected (${reason || 'no reason given'}).` };
}

/** A two-step action: `label` opens a confirmation saying `question`, whose `confirm` button runs `action`. */
function confirmStep({ label, question, confirm, danger = false, action }) {
  const box = h('div', { class: 'appt-confirm', hidden: true });
  const opener = h('button', { type: 'button', class: 'secondary', 'aria-expanded': 'false' }, label);
  const problem = h('p', { class: 'field-error', role: 'alert', hidden: true });
  const yes = h('button', { type: 'button', class: danger ? 'danger' : '' }, confirm);
  const no = h('button', { type: 'button', class: 'secondary' }, 'Keep it as it is');
  const toggle = (open) => {
    box.hidden = !open;
    opener.setAttribute('aria-expanded', String(open));
    problem.hidden = true;
    (open ? yes : opener).focus();
  };
  opener.addEventListener('click', () => toggle(box.hidden));
  no.addEventListener('click', () => toggle(false));
  yes.addEventListener('click', async () => {
    yes.disabled = true;
    try {
      await action();
      // Done: the step closes (the action has put focus where it belongs).
      box.hidden = true;
      opener.setAttribute('aria-expanded', 'false');
    } catch (error) {
      if (error.status !== 401) {
        problem.textContent = error.message;
        problem.hidden = false;
      }
    } finally {
      yes.disabled = false;
    }
  });
  box.append(h('p', {}, question), problem, h('div', { class: 'actions' }, yes, no));
  return h('div', {}, h('div', { class: 'actions' }, opener), box);
}

/** The calendar feed section. */
export function feedSection() {
  const input = h('input', { id: 'appt-feed', type: 'text', readonly: true, value: '', 'aria-describedby': 'appt-feed-hint' });
  const status = h('p', { class: 'hint', 'aria-live': 'polite' });
  const copy = h('button', { type: 'button' }, 'Copy URL');
  const body = h('div', {}, h('p', {}, 'Loading…'));
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(input.value);
      status.textContent = 'Copied.';
    } catch {
      // No clipboard access (an older browser, or not allowed): select it for the person to copy.
      input.focus();
      input.select();
      status.textContent = 'The URL is selected: copy it with your device\'s copy command.';
    }
  });
  const rotate = confirmStep({
    label: 'Replace the URL…',
    question: 'Calendars subscribed to the current URL stop updating and must subscribe to the new one. Replace it?',
    confirm: 'Replace the URL',
    danger: true,
    action: async () => {
      const answer = await post('/api/portal/calendar-feed/rotate');
      input.value = answer.url;
      status.textContent = '';
      notify('The calendar feed has a new URL. The old one no longer works.');
      input.focus();
      input.select();
    },
  });
  get('/api/portal/calendar-feed').then((answer) => {
    input.value = answer.url;
    body.replaceChildren(
      h('div', { class: 'field' },
        h('label', { for: 'appt-feed' }, 'Calendar feed URL'),
        h('p', { class: 'hint', id: 'appt-feed-hint' }, 'Add it to Google, Apple or Outlook calendar as a calendar "from URL" to see your appointments there. Anyone with this URL can see them: if it leaks, replace it.'),
        h('div', { class: 'appt-copy' }, input, copy),
        status),
      rotate);
  }, (error) => { if (error.status !== 401) body.replaceChildren(failure(error)); });
  return h('section', { 'aria-labelledby': 'appt-feed-title' }, h('h2', { id: 'appt-feed-title' }, 'Calendar feed'), body);
}

const PROVIDERS = { google: 'Google Calendar', calcom: 'Cal.com' };
const STATUSES = {
  connected: ['Connected', 'ok'],
  needs_reconnect: ['Needs reconnecting', 'bad'],
  error: ['Problem', 'warn'],
  not_connected: ['Not connected', ''],
};

/**
 * The connected calendar section. `services` are the business's booking services (for
 * Cal.com's event types).
 */
export function connectionSection({ services, timeZone }) {
  const body = h('div', {}, h('p', {}, 'Loading…'));
  const heading = h('h2', { id: 'appt-connection', tabindex: '-1' }, 'Connected calendar');

  async function reload() {
    try {
      body.replaceChildren(...render(await get('/api/portal/calendar')));
    } catch (error) {
      if (error.status !== 401) body.replaceChildren(failure(error));
    }
  }

  function render(connection) {
    const [statusText, tone] = STATUSES[connection.status] || [connection.status, 'warn'];
    const parts = [
      h('p', {}, connection.provider ? `${PROVIDERS[connection.provider] || connection.provider}: ` : '', h('span', { class: `badge ${tone}` }, statusText)),
    ];
    if (connection.message) parts.push(h('p', { class: 'success', role: 'status' }, connection.message));
    if (connection.status === 'needs_reconnect') {
      parts.push(h('div', { class: 'alert', role: 'alert' },
        h('p', {}, `${PROVIDERS[connection.provider] || 'The calendar'} no longer accepts DeskRinger's access. Until you reconnect it, bookings are not written to it and its busy times are not known.`),
        connection.error ? h('p', {}, connection.error) : null,
        connection.provider === 'google' ? googleButton('Reconnect Google Calendar') : h('p', {}, 'Enter a new Cal.com API key below to reconnect.')));
    } else if (connection.error) {
      parts.push(h('div', { class: 'alert', role: 'alert' }, h('p', {}, 'Last problem', connection.error_at ? ` (${dateTime(connection.error_at, timeZone)})` : '', ': ', connection.error)));
    }
    if (connection.provider === 'calcom' && connection.event_types) {
      const mapped = Object.entries(connection.event_types);
      parts.push(h('p', {}, 'Event types: ', mapped.map(([service, id]) => `${service} → ${id}`).join(', ') || 'none'));
    }
    if (connection.provider) {
      parts.push(confirmStep({
        label: 'Disconnect…',
        question: `Disconnect ${PROVIDERS[connection.provider] || 'the calendar'}? Bookings will no longer be written to it, and its busy times no longer count.`,
        confirm: 'Disconnect',
        danger: true,
        action: async () => {
          const answer = await del('/api/portal/calendar');
          notify(answer.message ? `${answer.message[0].toUpperCase()}${answer.message.slice(1)}.` : 'The calendar is disconnected.');
          await reload();
          heading.focus();
        },
      }));
    }
    if (connection.provider === 'google' && connection.status !== 'needs_reconnect') parts.push(googleCalendars(connection));
    const google = connection.provider === 'google' ? [] : [
      h('h3', {}, connection.provider ? 'Use Google Calendar instead' : 'Google Calendar'),
      h('p', {}, connection.provider === 'calcom'
        ? 'Connecting Google Calendar disconnects Cal.com.'
        : 'Bookings are written to your Google Calendar, and times it shows as busy are not offered to callers.'),
      googleButton('Connect Google Calendar'),
    ];
    const calcom = [
      h('h3', {}, connection.provider === 'google' ? 'Use Cal.com instead' : 'Cal.com'),
      h('details', { class: 'appt-details', open: connection.provider === 'calcom' && connection.status === 'needs_reconnect' },
        h('summary', {}, connection.provider === 'calcom' ? 'Change the Cal.com key or event types' : 'Set up Cal.com'),
        calcomForm(connection)),
    ];
    parts.push(...(connection.provider === 'calcom' ? [...calcom, ...google] : [...google, ...calcom]));
    return parts;
  }

  function googleButton(text) {
    const problem = h('p', { class: 'field-error', role: 'alert', hidden: true });
    const button = h('button', { type: 'button' }, text);
    button.addEventListener('click', async () => {
      button.disabled = true;
      problem.hidden = true;
      try {
        const answer = await get('/api/portal/calendar/google/connect?return_to=app');
        location.assign(answer.authorize_url);
      } catch (error) {
        button.disabled = false;
        if (error.status !== 401) {
          problem.textContent = error.message;
          problem.hidden = false;
        }
      }
    });
    return h('div', {}, h('div', { class: 'actions' }, button), problem);
  }

  function googleCalendars(connection) {
    const chosen = connection.calendars || { write_calendar_id: 'primary', busy_calendar_ids: ['primary'] };
    const box = h('div', {}, h('p', {}, 'Loading your Google calendars…'));
    get('/api/portal/calendar/google/calendars').then(({ calendars }) => {
      // `primary` stands for the account's main calendar.
      const is = (id, calendar) => id === calendar.id || (id === 'primary' && calendar.primary);
      const title = (calendar) => (calendar.primary ? `${calendar.summary} (main)` : calendar.summary);
      const busy = h('fieldset', { name: 'busy_calendar_ids' },
        h('legend', {}, 'Busy times come from'),
        calendars.map((calendar, i) => h('div', { class: 'check' },
          h('input', { type: 'checkbox', id: `appt-busy-${i}`, name: 'busy', value: calendar.id, checked: chosen.busy_calendar_ids.some((id) => is(id, calendar)) }),
          h('label', { for: `appt-busy-${i}` }, title(calendar)))));
      const write = calendars.find((calendar) => is(chosen.write_calendar_id, calendar));
      const form = h('form', { novalidate: true },
        field('Write bookings to', 'write_calendar_id', { control: 'select', value: write ? write.id : '', options: calendars.map((calendar) => [calendar.id, title(calendar)]) }),
        busy,
        h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save calendars')));
      onSubmit(form, () => put('/api/portal/calendar', {
        write_calendar_id: form.elements.write_calendar_id.value,
        busy_calendar_ids: [...form.querySelectorAll('input[name="busy"]:checked')].map((input) => input.value),
      }), () => notify('Calendars saved.'));
      box.replaceChildren(h('h3', {}, 'Calendars used'), form);
    }, (error) => { if (error.status !== 401) box.replaceChildren(h('h3', {}, 'Calendars used'), failure(error)); });
    return box;
  }

  function calcomForm(connection) {
    if (!services.length) {
      return h('p', {}, 'Cal.com books each of your services as one of its event types. ', h('a', { href: '#/settings' }, 'Add your services in Settings'), ' first.');
    }
    const current = connection.event_types || {};
    const form = h('form', { class: 'appt-form', novalidate: true },
      h('p', {}, connection.provider === 'calcom'
        ? 'Enter the key again to change the event types or the key.'
        : `Bookings are made in Cal.com as the event type of their service${connection.provider === 'google' ? '; this replaces Google Calendar' : ''}.`),
      field('Cal.com API key', 'api_key', { type: 'password', autocomplete: 'off', required: true, hint: 'Made in Cal.com under Settings > Developer > API keys.' }),
      h('fieldset', { name: 'event_types' },
        h('legend', {}, 'Event type id of each service'),
        h('p', { class: 'hint' }, 'Leave a service empty to keep it out of Cal.com.'),
        services.map((service) => field(service.name, `event_types.${service.name}`, { inputmode: 'numeric', autocomplete: 'off', value: current[service.name] ?? '' }))),
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, connection.provider === 'calcom' ? 'Save Cal.com' : 'Connect Cal.com')));
    onSubmit(form, () => {
      const eventTypes = {};
      for (const service of services) eventTypes[service.name] = form.elements[`event_types.${service.name}`].value.trim();
      return put('/api/portal/calendar/calcom', { api_key: form.elements.api_key.value, event_types: eventTypes });
    }, async (connected) => {
      notify(connected.message || 'Cal.com is connected.');
      await reload();
      heading.focus();
    });
    return form;
  }

  reload();
  return h('section', { 'aria-labelledby': 'appt-connection' }, heading, body);
}
