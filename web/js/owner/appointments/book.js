// Adding an appointment by hand (POST /api/portal/appointments) and moving or changing one
// (PATCH /api/portal/appointments/{id}). Both book through the diary's rules: a taken time
// answers 409 with the nearest free ones, which the time select then offers.

import { patch, post } from '../../api.js';
import { field, h, notify, onSubmit } from '../../dom.js';
import { dateIn, dateTime } from '../../format.js';
import { offerAlternatives, slotPicker } from './slots.js';

/**
 * The "Add an appointment" form. `services` are the business's booking services, `date()`
 * the day to start on; `booked(appointment)` runs after a booking.
 */
export function addForm({ services, timeZone, date, booked }) {
  if (!services.length) {
    return h('p', {}, 'Appointments need at least one service. ', h('a', { href: '#/settings' }, 'Add your services in Settings'), '.');
  }
  const serviceField = field('Service', 'service', {
    control: 'select',
    options: services.map((service) => [service.name, `${service.name} (${service.minutes} min)`]),
  });
  const serviceSelect = serviceField.querySelector('select');
  const picker = slotPicker({ date: date(), timeZone, service: () => serviceSelect.value });
  serviceSelect.addEventListener('change', picker.load);
  const form = h('form', { class: 'appt-form', novalidate: true },
    serviceField,
    picker.element,
    field('Caller name', 'caller_name', { required: true, autocomplete: 'off' }),
    field('Phone', 'caller_phone', { type: 'tel', autocomplete: 'off', inputmode: 'tel', hint: 'With country code, like +14155550123. They get a confirmation text and a reminder.' }),
    field('Notes', 'notes', { control: 'textarea' }),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Book appointment')));
  onSubmit(form, async () => {
    const body = {
      service: serviceSelect.value,
      starts_at: picker.select.value,
      caller_name: form.elements.caller_name.value,
      caller_phone: form.elements.caller_phone.value,
      notes: form.elements.notes.value,
    };
    return post('/api/portal/appointments', body).catch((error) => offerAlternatives(picker, error));
  }, async (appointment) => {
    notify(`Booked: ${appointment.service} for ${appointment.caller_name}, ${dateTime(appointment.starts_at, timeZone)}.`);
    form.elements.caller_name.value = '';
    form.elements.caller_phone.value = '';
    form.elements.notes.value = '';
    picker.load();
    await booked(appointment);
  });
  picker.load();
  return form;
}

/**
 * The form that moves `appointment` (a new date and free time) and changes its name and
 * notes; `changed(appointment)` runs after a save, `close()` on "Close".
 */
export function moveForm({ appointment, timeZone, changed, close }) {
  const picker = slotPicker({
    date: dateIn(appointment.starts_at, timeZone),
    timeZone,
    service: () => appointment.service,
    keep: `Keep ${dateTime(appointment.starts_at, timeZone)}`,
    dateLabel: 'Move to date',
    timeLabel: 'New time',
  });
  const form = h('form', { class: 'appt-move', novalidate: true },
    picker.element,
    field('Caller name', 'caller_name', { value: appointment.caller_name, required: true, autocomplete: 'off' }),
    field('Notes', 'notes', { control: 'textarea', value: appointment.notes || '' }),
    h('div', { class: 'actions' },
      h('button', { type: 'submit' }, 'Save changes'),
      h('button', { type: 'button', class: 'secondary', onclick: close }, 'Close')));
  onSubmit(form, async () => {
    const body = { caller_name: form.elements.caller_name.value, notes: form.elements.notes.value };
    if (picker.select.value) body.starts_at = picker.select.value;
    return patch(`/api/portal/appointments/${appointment.id}`, body).catch((error) => offerAlternatives(picker, error));
  }, async (updated) => {
    notify(`Saved: ${updated.service} for ${updated.caller_name}, ${dateTime(updated.starts_at, timeZone)}.`);
    await changed(updated);
  });
  picker.load();
  return form;
}

/**
 * The cancel step of `appointment`: whether to text the caller, then cancel.
 * `cancelled(appointment)` runs after it, `close()` on "Keep it".
 */
export function cancelForm({ appointment, timeZone, cancelled, close }) {
  const hasPhone = Boolean(appointment.caller_phone);
  const id = `notify-${appointment.id}`;
  const form = h('form', { class: 'appt-cancel', novalidate: true },
    h('p', {}, `Cancel ${appointment.service} for ${appointment.caller_name} on ${dateTime(appointment.starts_at, timeZone)}?`),
    hasPhone
      ? h('div', { class: 'check' }, h('input', { type: 'checkbox', id, name: 'notify_caller', checked: true }), h('label', { for: id }, `Text ${appointment.caller_phone} that it is cancelled`))
      : h('p', { class: 'muted' }, 'No phone number is on this appointment, so the caller cannot be texted.'),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'danger' }, 'Cancel appointment'),
      h('button', { type: 'button', class: 'secondary', onclick: close }, 'Keep it')));
  onSubmit(form, () => post(`/api/portal/appointments/${appointment.id}/cancel`, { notify_caller: hasPhone && form.elements.notify_caller.checked }),
    async (done) => {
      notify(`Cancelled: ${done.service} for ${done.caller_name}, ${dateTime(done.starts_at, timeZone)}.`);
      await cancelled(done);
    });
  return form;
}
