// The diary: a day or a week of appointments in the business's time zone, with previous /
// today / next, and each appointment's move, change and cancel steps in place.
// A local day runs from the instant of its midnight to the next day's (format.instantOf),
// so days of 23 or 25 hours (daylight saving changes) are asked for exactly.

import { get, withQuery } from '../../api.js';
import { failure, h } from '../../dom.js';
import { addDays, dateIn, instantOf, longDate, time, today } from '../../format.js';
import { cancelForm, moveForm } from './book.js';

const SOURCES = { call: 'Booked on a call', sms: 'Booked by text', portal: 'Added here', admin: 'Added by DeskRinger staff' };

/** The Monday of the week of `isoDate`. */
export function mondayOf(isoDate) {
  const weekday = new Date(`${isoDate}T00:00:00Z`).getUTCDay();
  return addDays(isoDate, -((weekday + 6) % 7));
}

/**
 * The first instant of the local day `isoDate` in `timeZone`: its midnight, or where a zone
 * skips midnight (America/Santiago springs from 00:00 to 01:00), the end of that gap.
 */
export function startOfDay(isoDate, timeZone) {
  let instant = instantOf(isoDate, '00:00', timeZone);
  for (let i = 0; i < 12 && dateIn(instant, timeZone) < isoDate; i += 1) {
    instant = new Date(Date.parse(instant) + 15 * 60000).toISOString().replace('.000Z', 'Z');
  }
  return instant;
}

/** "Mon 7 Dec" for a calendar date. */
function shortDate(isoDate) {
  return new Intl.DateTimeFormat(undefined, { timeZone: 'UTC', weekday: 'short', day: 'numeric', month: 'short' }).format(new Date(`${isoDate}T00:00:00Z`));
}

/**
 * The diary section. `state` is `{view: 'day'|'week', date, cancelled}` and is kept up to date
 * here; `remember(state)` is told of every change (to keep it in the address).
 * Answers `{element, reload()}`.
 */
export function diary({ timeZone, state, remember }) {
  // Read out when it changes, without the page's notice (which would push the buttons down
  // between two presses of "Next").
  const title = h('p', { class: 'appt-range', tabindex: '-1', 'aria-live': 'polite' });
  const days = h('div', { class: 'appt-days' });
  const dayButton = h('button', { type: 'button', class: 'secondary', onclick: () => change({ view: 'day' }) }, 'Day');
  const weekButton = h('button', { type: 'button', class: 'secondary', onclick: () => change({ view: 'week' }) }, 'Week');
  const previous = h('button', { type: 'button', class: 'secondary', onclick: () => step(-1) });
  const next = h('button', { type: 'button', class: 'secondary', onclick: () => step(1) });
  const jump = h('input', { type: 'date', id: 'appt-jump', value: state.date, onchange: () => { if (jump.value) change({ date: jump.value }); } });
  const cancelledBox = h('input', { type: 'checkbox', id: 'appt-cancelled', checked: state.cancelled, onchange: () => change({ cancelled: cancelledBox.checked }) });
  const toolbar = h('div', { class: 'appt-toolbar' },
    h('div', { class: 'appt-switch', role: 'group', 'aria-label': 'Show' }, dayButton, weekButton),
    h('div', { class: 'appt-steps', role: 'group', 'aria-label': 'Move through the diary' },
      previous,
      h('button', { type: 'button', class: 'secondary', onclick: () => change({ date: today(timeZone) }) }, 'Today'),
      next),
    h('div', { class: 'appt-jump' }, h('label', { for: 'appt-jump' }, 'Go to date'), jump),
    h('div', { class: 'check' }, cancelledBox, h('label', { for: 'appt-cancelled' }, 'Show cancelled')));
  let loads = 0;

  function step(direction) {
    change({ date: addDays(state.date, direction * (state.view === 'week' ? 7 : 1)) });
  }

  function change(update) {
    Object.assign(state, update);
    remember(state);
    reload();
  }

  /** The local dates shown, first to last. */
  function shownDates() {
    if (state.view === 'day') return [state.date];
    const monday = mondayOf(state.date);
    return Array.from({ length: 7 }, (_, i) => addDays(monday, i));
  }

  /** Loads and shows the appointments of the days in view. */
  async function reload() {
    const ticket = ++loads;
    const dates = shownDates();
    const week = state.view === 'week';
    dayButton.setAttribute('aria-pressed', String(!week));
    weekButton.setAttribute('aria-pressed', String(week));
    previous.textContent = week ? 'Previous week' : 'Previous day';
    next.textContent = week ? 'Next week' : 'Next day';
    jump.value = state.date;
    title.textContent = week ? `Week of ${longDate(dates[0])}` : longDate(state.date);
    days.setAttribute('aria-busy', 'true');
    try {
      const from = startOfDay(dates[0], timeZone);
      const to = startOfDay(addDays(dates[dates.length - 1], 1), timeZone);
      const [answer, away] = await Promise.all([
        get(withQuery('/api/portal/appointments', { from, to, status: state.cancelled ? 'all' : null })),
        get('/api/portal/time-off'),
      ]);
      if (ticket !== loads) return;
      const byDate = new Map(dates.map((date) => [date, []]));
      for (const appointment of answer.appointments) {
        const date = dateIn(appointment.starts_at, timeZone);
        if (byDate.has(date)) byDate.get(date).push(appointment);
      }
      days.className = week ? 'appt-days appt-week' : 'appt-days';
      const closed = (date) => closedOn(date, away.time_off);
      days.replaceChildren(...dates.map((date) => dayBlock(date, byDate.get(date), closed(date), week)));
    } catch (error) {
      if (ticket !== loads) return;
      days.replaceChildren(failure(error));
    } finally {
      if (ticket === loads) days.removeAttribute('aria-busy');
    }
  }

  /** Time off overlapping the local day `date`, as "Closed 12:00 – end of day: Christmas" lines. */
  function closedOn(date, ranges) {
    const start = startOfDay(date, timeZone);
    const end = startOfDay(addDays(date, 1), timeZone);
    return ranges
      .filter((range) => Date.parse(range.starts_at) < Date.parse(end) && Date.parse(range.ends_at) > Date.parse(start))
      .map((range) => {
        const from = Date.parse(range.starts_at) <= Date.parse(start) ? 'start of day' : time(range.starts_at, timeZone);
        const until = Date.parse(range.ends_at) >= Date.parse(end) ? 'end of day' : time(range.ends_at, timeZone);
        const span = from === 'start of day' && until === 'end of day' ? 'all day' : `${from} – ${until}`;
        return `Closed ${span}${range.note ? `: ${range.note}` : ''}`;
      });
  }

  function dayBlock(date, appointments, closed, week) {
    const isToday = date === today(timeZone);
    const content = [
      closed.map((line) => h('p', { class: 'appt-closed' }, line)),
      appointments.length
        ? h('ul', { class: 'appt-list' }, appointments.map((appointment) => item(appointment)))
        : h('p', { class: 'muted' }, 'Nothing booked.'),
    ];
    if (!week) return h('div', { class: 'appt-day' }, content);
    return h('div', { class: isToday ? 'appt-day today' : 'appt-day' },
      h('h3', {}, shortDate(date), isToday ? h('span', { class: 'badge' }, 'Today') : null),
      content);
  }

  function item(appointment) {
    const when = `${time(appointment.starts_at, timeZone)} – ${time(appointment.ends_at, timeZone)}`;
    const cancelled = appointment.status === 'cancelled';
    const panel = h('div', { class: 'appt-panel', id: `appt-panel-${appointment.id}`, hidden: true });
    const whose = h('span', { class: 'visually-hidden' }, `(${appointment.caller_name}, ${when})`);
    const changeButton = h('button', { type: 'button', class: 'secondary', 'aria-expanded': 'false', 'aria-controls': panel.id }, 'Move or change', whose.cloneNode(true));
    const cancelButton = h('button', { type: 'button', class: 'secondary', 'aria-expanded': 'false', 'aria-controls': panel.id }, 'Cancel', whose.cloneNode(true));
    const buttons = [changeButton, cancelButton];

    function open(button, build) {
      const wasOpen = button.getAttribute('aria-expanded') === 'true';
      buttons.forEach((b) => b.setAttribute('aria-expanded', 'false'));
      if (wasOpen) {
        panel.hidden = true;
        panel.replaceChildren();
        return;
      }
      button.setAttribute('aria-expanded', 'true');
      const close = () => { open(button, build); button.focus(); };
      panel.replaceChildren(build(close));
      panel.hidden = false;
      const first = panel.querySelector('input, select, textarea, button');
      if (first) first.focus();
    }

    async function afterChange() {
      await reload();
      title.focus();
    }

    changeButton.addEventListener('click', () => open(changeButton, (close) => moveForm({ appointment, timeZone, close, changed: afterChange })));
    cancelButton.addEventListener('click', () => open(cancelButton, (close) => cancelForm({ appointment, timeZone, close, cancelled: afterChange })));

    return h('li', { class: cancelled ? 'appt cancelled' : 'appt' },
      h('p', { class: 'appt-when' }, h('strong', {}, when), ' ', appointment.service,
        // The space keeps "Haircut Cancelled" two words for screen readers too.
        cancelled ? [' ', h('span', { class: 'badge bad' }, 'Cancelled')] : null),
      h('p', { class: 'appt-who' }, appointment.caller_name,
        appointment.caller_phone ? [' · ', h('a', { href: `tel:${appointment.caller_phone}` }, appointment.caller_phone)] : null),
      appointment.notes ? h('p', { class: 'appt-notes' }, appointment.notes) : null,
      h('p', { class: 'appt-source muted' }, appointment.call_id
        ? h('a', { href: `#/calls/${appointment.call_id}` }, SOURCES[appointment.source] || appointment.source)
        : SOURCES[appointment.source] || appointment.source),
      cancelled ? null : h('div', { class: 'actions' }, buttons),
      panel);
  }

  return {
    element: h('section', { 'aria-labelledby': 'appt-diary' }, h('h2', { id: 'appt-diary' }, 'Diary'), toolbar, title, days),
    reload,
  };
}
