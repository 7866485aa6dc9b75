// Calls: the list (handled / unhandled / all, paged by the API) with bulk archive and a CSV
// export, and a call's page (`#/calls/12`) with its transcript, what it booked, and the
// handled / unhandled / archive actions and "Block this caller". A text conversation
// (`channel: "sms"`) is listed with the calls; its page shows the messages in order.

import { get, post, withQuery } from '../api.js';
import { failure, field, h, notify, onSubmit, pager, show } from '../dom.js';
import { addDays, dateIn, dateTime, duration, today } from '../format.js';
import { callerOf, loadBusiness, settingsLink } from './business.js';

/** Calls per page. */
const PAGE_SIZE = 25;
const STATUSES = [['all', 'All'], ['unhandled', 'Unhandled'], ['handled', 'Handled']];
const CHANNELS = [['all', 'All'], ['voice', 'Calls'], ['sms', 'Texts']];
/**
 * What Twilio puts in `From` when a caller withheld their number (WITHHELD_STAND_INS in
 * src/http/blocked_numbers.rs): such a caller cannot be blocked.
 */
const WITHHELD = ['+266696687', '+86282452253', '+7378742833', '+2562533'];

/** The calls screen. */
export async function render(view, route) {
  if (route.parts[1]) return renderCall(view, route.parts[1]);
  return renderList(view, route);
}

/** `#/calls?status=...&page=...` with `changes` applied. */
function listHref(query, changes) {
  const params = new URLSearchParams(query);
  for (const [key, value] of Object.entries(changes)) {
    if (value === null || value === undefined || value === '') params.delete(key);
    else params.set(key, value);
  }
  const text = params.toString();
  return `#/calls${text ? `?${text}` : ''}`;
}

async function renderList(view, route) {
  const query = route.query;
  const status = STATUSES.some(([key]) => key === query.get('status')) ? query.get('status') : 'all';
  const channel = query.get('channel');
  const page = Math.max(1, Number.parseInt(query.get('page'), 10) || 1);
  view.replaceChildren(h('p', {}, 'Loading…'));
  let list;
  let business;
  try {
    [list, business] = await Promise.all([
      get(withQuery('/api/portal/calls', { status, channel: channel && channel !== 'all' ? channel : null, limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE })),
      loadBusiness(),
    ]);
  } catch (error) {
    show(view, 'Calls', failure(error));
    return;
  }
  const pages = Math.max(1, Math.ceil(list.total / PAGE_SIZE));
  // The channel filter exists only where the API reports each item's channel.
  const hasChannels = list.calls.some((call) => 'channel' in call) || Boolean(channel);
  show(view, 'Calls',
    filters('Show', 'status', STATUSES, status, query),
    hasChannels ? filters('Kind', 'channel', CHANNELS, channel || 'all', query) : null,
    callTable(list, business.timezone, status, () => renderList(view, route)),
    pager(page, pages, (next) => { location.hash = listHref(query, { page: next }); }),
    exportForm(status, business.timezone));
}

/** A row of links that filter the list; the current one is marked for screen readers. */
function filters(label, key, choices, current, query) {
  return h('nav', { class: 'filters', 'aria-label': `${label} calls` },
    h('span', { class: 'filters-label', 'aria-hidden': 'true' }, `${label}:`),
    h('ul', {}, choices.map(([value, text]) => h('li', {},
      h('a', { href: listHref(query, { [key]: value === 'all' ? null : value, page: null }), 'aria-current': value === current ? 'true' : null }, text)))));
}

function callTable(list, timeZone, status, reload) {
  if (!list.calls.length) {
    const none = { all: 'No calls yet.', unhandled: 'No calls are waiting for you.', handled: 'No handled calls yet.' };
    return h('p', { class: 'muted' }, none[status]);
  }
  const boxes = [];
  const selected = () => boxes.filter((box) => box.checked).map((box) => Number(box.value));
  const bulk = h('div', { class: 'actions bulk' });
  const renderBulk = () => {
    const count = selected().length;
    bulk.replaceChildren(h('button', { type: 'button', class: 'secondary', disabled: count === 0, onclick: confirmArchive },
      count ? `Archive selected (${count})` : 'Archive selected'));
  };
  const confirmArchive = () => {
    const ids = selected();
    if (!ids.length) return;
    const keep = h('button', { type: 'button', class: 'secondary', onclick: () => { renderBulk(); bulk.querySelector('button').focus(); } }, 'Keep them');
    const archive = h('button', { type: 'button', class: 'danger', onclick: async () => {
      archive.disabled = true;
      try {
        const answer = await post('/api/portal/calls/bulk-archive', { call_ids: ids });
        notify(answer.message);
        await reload();
      } catch (error) {
        if (error.status === 401) return;
        archive.disabled = false;
        bulk.append(h('p', { class: 'field-error', role: 'alert' }, error.message));
      }
    } }, ids.length === 1 ? 'Yes, archive 1 call' : `Yes, archive ${ids.length} calls`);
    bulk.replaceChildren(h('p', { class: 'confirm', role: 'alert' }, `Archive ${ids.length === 1 ? 'this call' : `these ${ids.length} calls`}? Archived calls leave the list (the export keeps them).`), archive, keep);
    archive.focus();
  };
  const all = h('input', { type: 'checkbox', id: 'calls-all', onchange: () => { boxes.forEach((box) => { box.checked = all.checked; }); renderBulk(); } });
  const rows = list.calls.map((call) => {
    const box = h('input', { type: 'checkbox', value: call.id, id: `call-${call.id}`, onchange: () => { all.checked = boxes.every((b) => b.checked); renderBulk(); } });
    boxes.push(box);
    return h('tr', {},
      h('td', {}, box, h('label', { for: `call-${call.id}`, class: 'visually-hidden' }, `Select the call from ${callerOf(call)} on ${dateTime(call.created_at, timeZone)}`)),
      h('td', {}, h('a', { href: `#/calls/${call.id}` }, callerOf(call)),
        call.caller_name && call.caller_phone ? h('div', { class: 'muted' }, call.caller_phone) : null),
      h('td', {}, dateTime(call.created_at, timeZone)),
      h('td', { class: 'call-summary' }, call.summary || h('span', { class: 'muted' }, 'No summary')),
      h('td', {}, handledBadge(call), 'channel' in call ? h('div', { class: 'muted' }, call.channel === 'sms' ? 'Text' : 'Call') : null));
  });
  renderBulk();
  return h('div', {},
    h('div', { class: 'table-wrap' }, h('table', { class: 'calls' },
      h('caption', { class: 'visually-hidden' }, `Calls, newest first (${list.total} in all)`),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, all, h('label', { for: 'calls-all', class: 'visually-hidden' }, 'Select every call on this page')),
        h('th', { scope: 'col' }, 'Caller'),
        h('th', { scope: 'col' }, 'When'),
        h('th', { scope: 'col' }, 'Summary'),
        h('th', { scope: 'col' }, 'Status'))),
      h('tbody', {}, rows))),
    bulk);
}

function handledBadge(call) {
  return call.handled ? h('span', { class: 'badge ok' }, 'Handled') : h('span', { class: 'badge warn' }, 'Unhandled');
}

/** The CSV export: the chosen filter and date range, fetched with the token, saved as a file. */
function exportForm(status, timeZone) {
  const form = h('form', { class: 'card export', novalidate: true },
    h('h2', { id: 'calls-export' }, 'Export calls'),
    h('p', { class: 'hint' }, 'A spreadsheet (CSV) of your calls, archived ones included. Leave the dates empty for every call.'),
    field('Which calls', 'status', { control: 'select', value: status, options: [['all', 'All calls'], ['unhandled', 'Unhandled calls'], ['handled', 'Handled calls']] }),
    h('div', { class: 'fields-row' },
      field('From', 'from', { type: 'date' }),
      field('To', 'to', { type: 'date' })),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Download CSV')));
  return onSubmit(form, async () => {
    const values = { status: form.elements.status.value, from: form.elements.from.value, to: form.elements.to.value };
    const response = await get(withQuery('/api/portal/calls/export.csv', values), { raw: true });
    const blob = await response.blob();
    const disposition = response.headers.get('Content-Disposition') || '';
    const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] || `calls-${today(timeZone)}.csv`;
    const url = URL.createObjectURL(blob);
    const link = h('a', { href: url, download: name, class: 'visually-hidden' }, 'Download');
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }, () => notify('Your export has been downloaded.'));
}

async function renderCall(view, rawId) {
  const id = Number.parseInt(rawId, 10);
  view.replaceChildren(h('p', {}, 'Loading…'));
  let call;
  let business;
  try {
    [call, business] = await Promise.all([get(`/api/portal/calls/${encodeURIComponent(rawId)}`), loadBusiness()]);
  } catch (error) {
    show(view, 'Call', failure(error), h('p', {}, h('a', { href: '#/calls' }, 'Back to calls')));
    return;
  }
  const timeZone = business.timezone;
  const texts = call.channel === 'sms';
  const booked = h('div', {}, h('p', {}, 'Loading…'));
  show(view, texts ? `Texts from ${callerOf(call)}` : `Call from ${callerOf(call)}`,
    h('p', {}, h('a', { href: '#/calls' }, 'Back to calls')),
    callFacts(call, timeZone),
    callActions(view, call, id),
    h('section', { 'aria-labelledby': 'call-summary' },
      h('h2', { id: 'call-summary' }, 'Summary'),
      h('p', {}, call.summary || 'No summary yet.')),
    h('section', { 'aria-labelledby': 'call-booked' }, h('h2', { id: 'call-booked' }, texts ? 'What the conversation booked' : 'What the call booked'), booked),
    h('section', { 'aria-labelledby': 'call-transcript' },
      h('h2', { id: 'call-transcript' }, texts ? 'Messages' : 'Transcript'),
      transcript(call.transcript || [], timeZone, texts)));
  booked.replaceChildren(await bookedBy(call, timeZone));
}

function callFacts(call, timeZone) {
  const row = (term, value) => [h('dt', {}, term), h('dd', {}, value)];
  const intents = { appointment: 'Appointment', question: 'Question', message: 'Message', complaint: 'Complaint', other: 'Other' };
  const texts = call.channel === 'sms';
  return h('dl', { class: 'facts card' },
    texts ? row('Kind', 'Text conversation') : null,
    row(texts ? 'From' : 'Caller', callerOf(call)),
    call.caller_name && call.caller_phone ? row('Phone', call.caller_phone) : null,
    row('Started', dateTime(call.created_at, timeZone)),
    row('Ended', call.ended_at ? dateTime(call.ended_at, timeZone) : (texts ? 'Still open' : '—')),
    texts ? null : row('Length', duration(call.duration_seconds)),
    row('Outcome', call.status.replace(/[_-]/g, ' ')),
    call.intent ? row('About', intents[call.intent] || call.intent) : null,
    texts ? null : row('Call back', call.callback_requested ? 'The caller asked to be called back' : 'Not asked'),
    row('Status', [handledBadge(call), call.handled && call.handled_at ? ` since ${dateTime(call.handled_at, timeZone)}` : '']));
}

function callActions(view, call, id) {
  const box = h('div', { class: 'actions call-actions' });
  const act = async (button, path) => {
    button.disabled = true;
    try {
      const answer = await post(`/api/portal/calls/${id}/${path}`);
      notify(answer.message);
      return answer;
    } catch (error) {
      if (error.status !== 401) box.append(h('p', { class: 'field-error', role: 'alert' }, error.message));
      button.disabled = false;
      return null;
    }
  };
  const toggle = h('button', { type: 'button', class: call.handled ? 'secondary' : null, onclick: async () => {
    const answer = await act(toggle, call.handled ? 'mark-unhandled' : 'mark-handled');
    if (!answer) return;
    await renderCall(view, String(id));
    // Keep the keyboard where it was: on the (now opposite) toggle.
    view.querySelector('.call-actions button')?.focus();
  } }, call.handled ? 'Mark unhandled' : 'Mark handled');
  const archive = h('button', { type: 'button', class: 'secondary', onclick: () => {
    const keep = h('button', { type: 'button', class: 'secondary', onclick: () => renderCall(view, String(id)) }, 'Keep it');
    const yes = h('button', { type: 'button', class: 'danger', onclick: async () => {
      if (await act(yes, 'archive')) location.hash = '#/calls';
    } }, 'Yes, archive');
    box.replaceChildren(h('p', { class: 'confirm', role: 'alert' }, 'Archive this call? It leaves the list (the export keeps it).'), yes, keep);
    yes.focus();
  } }, call.archived ? 'Archived' : 'Archive');
  if (call.archived) archive.disabled = true;
  box.append(toggle, archive, blockButton(box, call, id));
  return box;
}

/** "Block this caller", only when the caller's number is known (not withheld). */
function blockButton(box, call, id) {
  if (!call.caller_phone || WITHHELD.includes(call.caller_phone)) return null;
  const button = h('button', { type: 'button', class: 'secondary', onclick: async () => {
    button.disabled = true;
    box.querySelectorAll('.field-error').forEach((node) => node.remove());
    try {
      const blocked = await post(`/api/portal/calls/${id}/block`);
      notify(`${blocked.number} is blocked: calls from it are refused.`);
      const done = h('p', { class: 'blocked-done', tabindex: '-1' }, `${blocked.number} is blocked. `, settingsLink('blocked', 'See your blocked numbers'));
      button.replaceWith(done);
      done.focus();
    } catch (error) {
      button.disabled = false;
      if (!error.sessionEnded) box.append(h('p', { class: 'field-error', role: 'alert' }, error.message));
    }
  } }, 'Block this caller');
  return button;
}

function transcript(lines, timeZone, texts) {
  if (!lines.length) return h('p', { class: 'muted' }, texts ? 'No messages.' : 'No transcript.');
  const who = { caller: texts ? 'Customer' : 'Caller', ai: 'Receptionist' };
  return h('ol', { class: 'transcript' }, lines.map((line) => h('li', { class: `line ${line.speaker === 'ai' ? 'ai' : 'caller'}` },
    h('strong', {}, `${who[line.speaker] || line.speaker}: `),
    line.message,
    h('span', { class: 'muted' }, ` (${dateTime(line.timestamp, timeZone)})`))));
}

/**
 * The appointments this call booked (the API filters by `call_id`). A call books within the
 * business's booking horizon (at most 365 days) from the call, so that is the window asked for.
 */
async function bookedBy(call, timeZone) {
  const from = dateIn(call.created_at, timeZone);
  try {
    const answer = await get(withQuery('/api/portal/appointments', { call_id: call.id, status: 'all', from, to: addDays(from, 365) }));
    if (!answer.appointments.length) return h('p', { class: 'muted' }, call.channel === 'sms' ? 'This conversation booked no appointment.' : 'This call booked no appointment.');
    return h('ul', { class: 'booked' }, answer.appointments.map((appointment) => h('li', {},
      h('a', { href: `#/appointments?date=${dateIn(appointment.starts_at, timeZone)}` }, `${appointment.service}, ${dateTime(appointment.starts_at, timeZone)}`),
      ` for ${appointment.caller_name} `,
      appointment.status === 'cancelled' ? h('span', { class: 'badge bad' }, 'Cancelled') : h('span', { class: 'badge ok' }, 'Booked'))));
  } catch (error) {
    return failure(error);
  }
}
