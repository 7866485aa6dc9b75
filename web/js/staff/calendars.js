// Staff: every business's calendar connection, those with a problem first, with its last error.

import { get } from '../api.js';
import { h, show } from '../dom.js';
import { dateTime } from '../format.js';
import { badge, businessLink, empty, fill, section, table } from './common.js';

const PROVIDERS = { google: 'Google Calendar', calcom: 'Cal.com' };

/** The calendar connections screen. */
export async function render(view) {
  const body = h('div', {});
  show(view, 'Calendars', section('Connections', body));
  await fill(body, async () => {
    const { connections } = await get('/api/admin/calendar-connections');
    if (!connections.length) return empty('No business has connected a calendar.');
    const problems = connections.filter((c) => c.status !== 'connected').length;
    return [
      h('p', {}, `${connections.length} ${connections.length === 1 ? 'connection' : 'connections'}, ${problems} with a problem.`),
      table('Calendar connections, those with a problem first', ['Business', 'Calendar', 'Status', 'Last error', 'Waiting to be written'],
        connections.map((c) => [
          businessLink(c.customer_id, c.business_name),
          PROVIDERS[c.provider] || c.provider,
          badge(c.status),
          c.last_error ? [h('div', {}, c.last_error), h('div', { class: 'muted' }, dateTime(c.last_error_at))] : '—',
          String(c.pending_writes),
        ])),
    ];
  });
}
