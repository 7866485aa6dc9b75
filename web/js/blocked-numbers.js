// A list of blocked numbers with Unblock on each and a form that adds one: the owner's
// (/api/portal/blocked-numbers, in Settings) and the one kept for every business
// (/api/admin/blocked-numbers, on the staff Numbers screen) have the same shapes.

import { del, get, post } from './api.js';
import { failure, field, h, notify, onSubmit } from './dom.js';
import { dateTime } from './format.js';

/**
 * The list at `path` and its add form. `timeZone` shows when each was blocked; `none` is
 * the text of an empty list. Answers the element to place under a section's heading.
 */
export function blockedNumbers(path, { timeZone, none = 'No numbers are blocked.', numberHint } = {}) {
  const list = h('div', { class: 'blocked-list' });
  const load = async () => {
    list.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
    try {
      const answer = await get(path);
      list.replaceChildren(answer.blocked_numbers.length
        ? h('ul', { class: 'blocked' }, answer.blocked_numbers.map((blocked) => item(blocked)))
        : h('p', { class: 'muted' }, none));
    } catch (error) {
      if (!error.sessionEnded) list.replaceChildren(failure(error));
    }
  };
  const item = (blocked) => {
    const problem = h('div', {});
    const unblock = h('button', { type: 'button', class: 'secondary', 'aria-label': `Unblock ${blocked.number}` }, 'Unblock');
    unblock.addEventListener('click', async () => {
      unblock.disabled = true;
      problem.replaceChildren();
      try {
        await del(`${path}/${encodeURIComponent(blocked.number)}`);
        notify(`${blocked.number} unblocked.`);
        await load();
        // The button is gone: keep the keyboard in this part of the page.
        (list.querySelector('button') || form.querySelector('input')).focus();
      } catch (error) {
        unblock.disabled = false;
        if (!error.sessionEnded) problem.replaceChildren(h('p', { class: 'field-error', role: 'alert' }, error.message));
      }
    });
    return h('li', {},
      h('div', { class: 'blocked-number' },
        h('strong', {}, blocked.number),
        blocked.note ? h('span', {}, blocked.note) : null,
        h('span', { class: 'muted' }, `Blocked ${dateTime(blocked.created_at, timeZone)}`)),
      unblock,
      problem);
  };
  const form = h('form', { class: 'block-form', novalidate: true },
    h('h3', {}, 'Block a number'),
    field('Number to block', 'number', { type: 'tel', hint: numberHint || 'With the country code, for example +1 415 555 0199.' }),
    field('Note', 'note', { hint: 'Optional: why, for example "sales calls".' }),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Block number')));
  onSubmit(form, () => {
    const note = form.elements.note.value.trim();
    return post(path, { number: form.elements.number.value.trim(), ...(note ? { note } : {}) });
  }, async (blocked) => {
    form.reset();
    notify(`${blocked.number} blocked.`);
    await load();
  });
  load();
  return h('div', {}, list, form);
}
