// Time off: ranges the business is closed (no new bookings are offered in them; existing
// appointments stand). Start and end are typed as the business's local date and time and
// sent as instants (format.instantOf), so the browser's own time zone never matters.

import { del, get, post } from '../../api.js';
import { failure, field, h, notify, onSubmit } from '../../dom.js';
import { dateTime, instantOf } from '../../format.js';

/** A `datetime-local` value ("2026-12-24T12:00") as an instant in `timeZone`; "" stays "" (the API names it). */
function instantFromLocal(value, timeZone) {
  const [date, clock] = value.split('T');
  if (!date || !clock) return value;
  return instantOf(date, clock.slice(0, 5), timeZone);
}

/** The time off section; `changed()` runs after an add or a removal. Answers `{element, reload()}`. */
export function timeOff({ timeZone, changed }) {
  const list = h('div', { class: 'appt-timeoff' }, h('p', {}, 'Loading…'));
  const form = h('form', { class: 'appt-form', novalidate: true },
    h('div', { class: 'appt-pair' },
      field('Closed from', 'starts_at', { type: 'datetime-local', required: true }),
      field('Until', 'ends_at', { type: 'datetime-local', required: true })),
    field('Note', 'note', { hint: 'For you, like "Christmas" (optional).' }),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Add time off')));
  onSubmit(form, () => post('/api/portal/time-off', {
    starts_at: instantFromLocal(form.elements.starts_at.value, timeZone),
    ends_at: instantFromLocal(form.elements.ends_at.value, timeZone),
    note: form.elements.note.value,
  }), async (added) => {
    // The list first, then the announcement: what is announced is already on the screen.
    form.reset();
    await reload();
    notify(`Time off added: ${dateTime(added.starts_at, timeZone)} to ${dateTime(added.ends_at, timeZone)}.`);
    await changed();
  });

  async function reload() {
    try {
      const answer = await get('/api/portal/time-off');
      list.replaceChildren(answer.time_off.length
        ? h('ul', { class: 'steps' }, answer.time_off.map(row))
        : h('p', { class: 'muted' }, 'No time off planned.'));
    } catch (error) {
      if (error.status !== 401) list.replaceChildren(failure(error));
    }
  }

  function row(range) {
    const text = `${dateTime(range.starts_at, timeZone)} to ${dateTime(range.ends_at, timeZone)}`;
    const problem = h('p', { class: 'field-error', role: 'alert', hidden: true });
    const remove = h('button', { type: 'button', class: 'secondary' }, 'Remove', h('span', { class: 'visually-hidden' }, `(time off ${text})`));
    remove.addEventListener('click', async () => {
      remove.disabled = true;
      try {
        await del(`/api/portal/time-off/${range.id}`);
        await reload();
        notify(`Time off removed: ${text}.`);
        (list.querySelector('button') || heading).focus();
        await changed();
      } catch (error) {
        remove.disabled = false;
        problem.textContent = error.message;
        problem.hidden = false;
      }
    });
    return h('li', {}, h('div', {}, h('strong', {}, text), range.note ? h('p', { class: 'appt-notes' }, range.note) : null, problem), remove);
  }

  const heading = h('h2', { id: 'appt-timeoff', tabindex: '-1' }, 'Time off');
  return {
    element: h('section', { 'aria-labelledby': 'appt-timeoff' },
      heading,
      h('p', { class: 'muted' }, 'When you are closed, callers are not offered times. Appointments already booked then stay booked.'),
      list,
      h('h3', {}, 'Add time off'),
      form),
    reload,
  };
}
