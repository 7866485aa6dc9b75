// Staff dashboard: the platform's figures, businesses on trial and the latest calls.
// Each part loads on its own, so one failing answer does not hide the others.

import { get, withQuery } from '../api.js';
import { h, show } from '../dom.js';
import { dateTime, duration, money } from '../format.js';
import { badge, businessLink, empty, fill, section, table } from './common.js';

/** Days the call statistics cover. */
const STATS_DAYS = 30;
/** Latest calls shown. */
const RECENT_CALLS = 10;

function figure(label, value) {
  return h('div', { class: 'staff-stat' }, h('p', { class: 'muted' }, label), h('p', { class: 'figure' }, value));
}

async function platformFigures() {
  const stats = await get('/api/admin/stats');
  return h('div', { class: 'staff-stats' },
    figure('Businesses', stats.customers.total),
    figure('Active', stats.customers.active),
    figure('On trial', stats.customers.trial),
    figure('Calls in all', stats.calls.total),
    figure('Calls today', stats.calls.today),
    figure('Average call', duration(stats.calls.avg_duration_seconds)));
}

async function callFigures() {
  const stats = await get(withQuery('/api/calls/stats', { days: STATS_DAYS }));
  return [
    h('div', { class: 'staff-stats' },
      figure('Calls', stats.total_calls),
      figure('Completed', stats.completed_calls),
      figure('Failed', stats.failed_calls),
      figure('Callbacks asked for', stats.callback_requests),
      figure('Average call', duration(stats.avg_duration_seconds)),
      figure('Cost', money(stats.costs.total))),
    h('p', { class: 'muted' }, `Twilio ${money(stats.costs.twilio)}, OpenAI ${money(stats.costs.openai)}.`),
  ];
}

async function trials() {
  const { trial_customers: rows } = await get('/api/admin/trial-customers');
  if (!rows.length) return empty('No business is on trial.');
  return table('Businesses on trial, ending soonest first', ['Business', 'Contact', 'Trial ends', 'Last sign-in'],
    rows.map((row) => [
      businessLink(row.id, row.business_name),
      [row.contact_name ? h('div', {}, row.contact_name) : null, h('div', {}, row.email)],
      [dateTime(row.trial_ends_at), ' ', row.is_expired ? badge('trial_expired') : h('span', { class: 'muted' }, `(${row.days_remaining} days left)`)],
      row.last_login ? dateTime(row.last_login) : 'Never',
    ]));
}

async function recentCalls() {
  const { calls } = await get(withQuery('/api/calls/recent', { limit: RECENT_CALLS, admin_view: true }));
  if (!calls.length) return empty('No calls yet.');
  return table('Latest calls, newest first', ['When', 'Business', 'Caller', 'Status', 'Length', 'Summary'],
    calls.map((call) => [
      dateTime(call.created_at),
      businessLink(call.customer_id, call.customer_business_name),
      [call.caller_name ? h('div', {}, call.caller_name) : null, h('div', {}, call.caller_phone || '—')],
      badge(call.status),
      duration(call.duration_seconds),
      call.summary || '—',
    ]));
}

/** The dashboard screen. */
export async function render(view) {
  const parts = [
    ['Platform', platformFigures],
    [`Calls in the last ${STATS_DAYS} days`, callFigures],
    ['Businesses on trial', trials],
    ['Latest calls', recentCalls],
  ];
  const bodies = parts.map(() => h('div', {}));
  show(view, 'Dashboard', parts.map(([title], i) => section(title, bodies[i])));
  await Promise.all(parts.map(([, load], i) => fill(bodies[i], load)));
}
