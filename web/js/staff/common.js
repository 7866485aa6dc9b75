// Pieces the staff screens share: sections, tables, status badges and a confirm step.

import { failure, h, notify } from '../dom.js';

let sectionIds = 0;

/** A card with an h2 heading, labelled by it for screen readers. */
export function section(title, ...children) {
  const id = `s${++sectionIds}`;
  return h('section', { class: 'card staff-section', 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

/**
 * A table: `headers` are column titles, `rows` arrays of cells (nodes or text). `caption`
 * names it for screen readers (shown only to them when `hideCaption`). On a phone each row
 * becomes a block of "title: value" lines (app.css, `.staff-stack`), so nothing scrolls sideways.
 */
export function table(caption, headers, rows, { hideCaption = true } = {}) {
  // Focusable and named, so a table wider than a phone can be scrolled from the keyboard.
  return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption },
    h('table', { class: 'staff-stack' },
      h('caption', { class: hideCaption ? 'visually-hidden' : 'staff-caption' }, caption),
      h('thead', {}, h('tr', {}, headers.map((title) => h('th', { scope: 'col' }, title)))),
      h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((cell, i) => h('td', { 'data-label': headers[i] }, h('div', {}, cell))))))));
}

/** "Nothing here yet" for an empty list. */
export function empty(text) {
  return h('p', { class: 'muted' }, text);
}

const GOOD = new Set(['active', 'connected', 'completed', 'booked', 'wired']);
const BAD = new Set(['cancelled', 'canceled', 'past_due', 'unpaid', 'failed', 'error', 'needs_reconnect',
  'incomplete_expired', 'trial_expired', 'busy', 'no-answer']);

/** A status as a badge, coloured by what it means (the word itself always shows). */
export function badge(status) {
  const kind = GOOD.has(status) ? 'ok' : BAD.has(status) ? 'bad' : 'warn';
  return h('span', { class: `badge ${kind}` }, String(status ?? '—').replace(/_/g, ' '));
}

/** A link to a business's staff page. */
export function businessLink(id, name) {
  if (id === null || id === undefined) return name || '—';
  return h('a', { href: `#/staff/businesses/${encodeURIComponent(id)}` }, name || `Business ${id}`);
}

/**
 * Fills `container` from `load()` (a promise of nodes): "Loading…" first, then the nodes, or
 * the API's message in place when it fails. Answers whether it worked.
 */
export async function fill(container, load) {
  container.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
  try {
    const nodes = await load();
    container.replaceChildren(...[nodes].flat(Infinity).filter(Boolean));
    return true;
  } catch (error) {
    if (error.status !== 401) container.replaceChildren(failure(error));
    return false;
  }
}

/**
 * A button that asks before it acts: pressing it shows `question` with a confirm button
 * (danger) and "Keep it"; only the confirm button runs `action()`. Focus moves to the
 * question so it is read out, and back to the first button when kept.
 */
export function confirmButton(label, question, confirmLabel, action, { danger = true } = {}) {
  const wrap = h('div', { class: 'staff-confirm' });
  const start = h('button', { type: 'button', class: danger ? 'danger' : 'secondary' }, label);
  const ask = () => {
    const prompt = h('p', { tabindex: '-1', class: 'staff-confirm-question' }, question);
    const yes = h('button', { type: 'button', class: 'danger' }, confirmLabel);
    const no = h('button', { type: 'button', class: 'secondary' }, 'Keep it');
    const error = h('div', {});
    yes.addEventListener('click', async () => {
      yes.disabled = true;
      no.disabled = true;
      error.replaceChildren();
      try {
        await action();
      } catch (err) {
        if (err.status !== 401) error.replaceChildren(failure(err));
        yes.disabled = false;
        no.disabled = false;
      }
    });
    no.addEventListener('click', () => {
      wrap.replaceChildren(start);
      start.focus();
    });
    wrap.replaceChildren(h('div', { class: 'staff-confirm-box', role: 'group', 'aria-label': label }, prompt, h('div', { class: 'actions' }, yes, no), error));
    prompt.focus();
  };
  start.addEventListener('click', ask);
  wrap.append(start);
  return wrap;
}

/** Every subscription status the API accepts (src/db/customers.rs SUBSCRIPTION_STATUSES). */
export const SUBSCRIPTION_STATUSES = ['trial', 'trial_expired', 'active', 'past_due', 'cancelling', 'cancelled',
  'unpaid', 'incomplete', 'incomplete_expired', 'trialing', 'paused', 'canceled'];

/** A status in words for a select. */
export function statusText(status) {
  return status.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase());
}

/** Copies an input's text, or selects it for the person to copy when the browser will not. */
export async function copy(input) {
  try {
    await navigator.clipboard.writeText(input.value);
    notify('Copied.');
  } catch {
    input.focus();
    input.select();
  }
}
