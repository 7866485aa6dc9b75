// Choosing a free start: a date, then the free times the API offers for a service on that
// day (GET /api/portal/availability), in a select named `starts_at` so the API's errors on
// that field appear next to it. A 409 answer's alternatives can replace the day's times.

import { get, withQuery } from '../../api.js';
import { field, h } from '../../dom.js';
import { time, today } from '../../format.js';

/**
 * A date field and a `starts_at` select of free times. `keep` (text) adds a first choice
 * with an empty value, for "leave the time as it is". `service()` names the service.
 * Answers `{element, dateInput, select, load(), offer(slots)}`.
 */
export function slotPicker({ date, timeZone, service, keep = null, dateLabel = 'Date', timeLabel = 'Free times' }) {
  const dateField = field(dateLabel, 'date', { type: 'date', value: date, required: true, min: today(timeZone) });
  const timeField = field(timeLabel, 'starts_at', { control: 'select', options: [] });
  const dateInput = dateField.querySelector('input');
  const select = timeField.querySelector('select');
  const status = h('p', { class: 'hint', 'aria-live': 'polite' });
  timeField.append(status);
  let loads = 0;

  function fill(options, message, isError = false) {
    const choices = keep ? [['', keep], ...options] : options;
    select.replaceChildren(...choices.map(([value, text]) => h('option', { value }, text)));
    if (!choices.length) select.append(h('option', { value: '' }, 'No free times'));
    status.textContent = message;
    status.classList.toggle('field-error', isError);
  }

  /** Loads the free times of the chosen service on the chosen date. */
  async function load() {
    const ticket = ++loads;
    const name = service();
    if (!name || !dateInput.value) {
      fill([], name ? 'Choose a date to see its free times.' : 'Choose a service to see its free times.');
      return;
    }
    fill([], 'Looking for free times…');
    try {
      const answer = await get(withQuery('/api/portal/availability', { service: name, date: dateInput.value }));
      if (ticket !== loads) return;
      const options = answer.slots.map((slot) => [slot.start, `${time(slot.start, timeZone)} – ${time(slot.end, timeZone)}`]);
      fill(options, options.length ? `${options.length} free ${options.length === 1 ? 'time' : 'times'} on this day.` : 'Nothing is free on this day.');
    } catch (error) {
      if (ticket !== loads || error.status === 401) return;
      fill([], error.message, true);
    }
  }

  /**
   * Offers `slots` (the alternatives of a 409), labelled with their dates; with none, the
   * day's times are loaded again (the one chosen is gone).
   */
  function offer(slots) {
    if (!slots.length) return load();
    ++loads;
    fill(slots.map((slot) => [slot.start, slot.label]), 'These times near the one you chose are free.');
    return null;
  }

  dateInput.addEventListener('change', load);
  return { element: h('div', { class: 'appt-slots' }, dateField, timeField), dateInput, select, load, offer };
}

/** When a refused booking (409) carries alternatives, offers them on `picker`; then rethrows. */
export function offerAlternatives(picker, error) {
  if (error.status === 409 && error.body && Array.isArray(error.body.slots)) picker.offer(error.body.slots);
  throw error;
}
