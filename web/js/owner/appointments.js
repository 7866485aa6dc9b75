// The business's appointments screen (`#/appointments`): the diary (a day or a week in the
// business's time zone; add, move, change, cancel), time off, the calendar feed, and the
// connected calendar. `#/appointments?view=day&date=2026-12-08` opens on that day; Google's
// consent page returns here with `?calendar=connected` (or `=error&reason=`) in the address.

import { get } from '../api.js';
import { failure, h, show } from '../dom.js';
import { today } from '../format.js';
import { addForm } from './appointments/book.js';
import { callbackResult, connectionSection, feedSection } from './appointments/calendar.js';
import { diary } from './appointments/diary.js';
import { timeOff } from './appointments/timeoff.js';

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The appointments screen. */
export async function render(view, route) {
  // Read first: the address is cleaned at once, whatever happens next.
  const result = callbackResult(route);
  let customer;
  try {
    customer = await get('/api/portal/me');
  } catch (error) {
    if (error.status !== 401) show(view, 'Appointments', failure(error));
    return;
  }
  const timeZone = customer.timezone || 'UTC';
  const services = (customer.booking && customer.booking.services) || [];
  const asked = route.query.get('date');
  const state = {
    view: route.query.get('view') === 'day' ? 'day' : 'week',
    date: asked && DATE.test(asked) ? asked : today(timeZone),
    cancelled: route.query.get('status') === 'all',
  };
  const remember = (current) => {
    const query = new URLSearchParams({ view: current.view, date: current.date });
    if (current.cancelled) query.set('status', 'all');
    // replaceState: no hashchange, so the screen is not built again and focus stays put.
    history.replaceState(history.state, '', `${location.pathname}${location.search}#/appointments?${query}`);
  };
  const days = diary({ timeZone, state, remember });
  const away = timeOff({ timeZone, changed: () => days.reload() });
  const adding = h('section', { 'aria-labelledby': 'appt-add' },
    h('h2', { id: 'appt-add' }, 'Add an appointment'),
    addForm({ services, timeZone, date: () => (state.date < today(timeZone) ? today(timeZone) : state.date), booked: () => days.reload() }));

  show(view, 'Appointments',
    h('p', { class: 'muted' }, `Times are in ${timeZone}.`),
    result ? h('p', { class: result.ok ? 'success' : 'alert', role: result.ok ? 'status' : 'alert' }, result.text) : null,
    h('nav', { class: 'appt-jumps', 'aria-label': 'On this page' }, h('ul', {},
      [['appt-diary', 'Diary'], ['appt-add', 'Add'], ['appt-timeoff', 'Time off'], ['appt-feed-title', 'Calendar feed'], ['appt-connection', 'Connected calendar']]
        .map(([id, text]) => h('li', {}, h('a', { href: `#${id}`, onclick: (event) => jumpTo(event, id) }, text))))),
    days.element,
    adding,
    away.element,
    feedSection(),
    connectionSection({ services, timeZone }));
  await Promise.all([days.reload(), away.reload()]);
  // Home's "connect a calendar" links here with `?section=calendar` (after the diary has
  // loaded, so the section does not move away once reached).
  if (route.query.get('section') === 'calendar') jumpTo({ preventDefault() {} }, 'appt-connection');
}

/** Moves to a section without touching the address (its hash is the app's route). */
function jumpTo(event, id) {
  event.preventDefault();
  const target = document.getElementById(id);
  if (!target) return;
  target.setAttribute('tabindex', '-1');
  target.focus();
  target.scrollIntoView({ block: 'start' });
}
