// Staff: the numbers audit (every number on the Twilio account, its business, whether it is
// wired to this server or what is wrong, and business numbers the account lacks), and "Sync",
// which rewires every business number that does not point here; and the numbers blocked for
// every business (known robocallers; /api/admin/blocked-numbers).

import { get, post } from '../api.js';
import { blockedNumbers } from '../blocked-numbers.js';
import { failure, h, show } from '../dom.js';
import { badge, businessLink, empty, fill, section, table } from './common.js';

function auditParts(audit) {
  const numbers = audit.numbers.length
    ? table('Numbers on the Twilio account', ['Number', 'Business', 'Wiring'],
      audit.numbers.map((number) => [
        number.phone_number,
        number.customer_id ? businessLink(number.customer_id, number.business_name) : h('span', { class: 'muted' }, 'No business'),
        number.wired
          ? badge('wired')
          : [badge('not wired'), h('ul', { class: 'staff-problems' }, number.problems.map((problem) => h('li', {}, problem)))],
      ]))
    : empty('The Twilio account has no numbers.');
  const missing = audit.missing.length
    ? [
      h('p', {}, 'These businesses have a number the Twilio account does not hold: their calls go nowhere.'),
      table('Business numbers missing from the account', ['Business', 'Its number'],
        audit.missing.map((row) => [businessLink(row.customer_id, row.business_name), row.deskringer_number])),
    ]
    : empty('Every business number is on the account.');
  const wired = audit.numbers.filter((number) => number.wired).length;
  return [
    h('p', {}, `${audit.numbers.length} ${audit.numbers.length === 1 ? 'number' : 'numbers'}, ${wired} wired to this server.`),
    numbers,
    h('h3', {}, 'Missing numbers'),
    missing,
    h('details', { class: 'staff-details' },
      h('summary', {}, 'Where numbers must point'),
      h('dl', { class: 'staff-facts' },
        h('dt', {}, 'Voice'), h('dd', { class: 'staff-mono' }, audit.expected_voice_url),
        h('dt', {}, 'Status callback'), h('dd', { class: 'staff-mono' }, audit.expected_status_callback),
        h('dt', {}, 'Texts'), h('dd', { class: 'staff-mono' }, audit.expected_sms_url))),
  ];
}

function syncReport(report) {
  return h('div', { class: report.failed.length ? 'alert' : 'success', tabindex: '-1' },
    h('p', {}, `Sync done: ${report.rewired.length} rewired, ${report.failed.length} failed, ${report.unchanged} already right.`),
    report.rewired.length
      ? h('ul', {}, report.rewired.map((row) => h('li', {}, `${row.phone_number} (business ${row.customer_id}) was rewired. It was wrong in:`,
        h('ul', { class: 'staff-problems' }, row.fixed.map((problem) => h('li', {}, problem))))))
      : null,
    report.failed.length
      ? h('ul', {}, report.failed.map((row) => h('li', {}, `${row.phone_number} (business ${row.customer_id}) could not be rewired: ${row.error}`)))
      : null);
}

/** The numbers screen. */
export async function render(view) {
  const audit = h('div', {});
  const result = h('div', { role: 'status' });
  const sync = h('button', { type: 'button' }, 'Sync every number');
  sync.addEventListener('click', async () => {
    sync.disabled = true;
    result.replaceChildren(h('p', { class: 'muted' }, 'Syncing…'));
    try {
      const report = await post('/api/admin/phone-numbers/sync');
      result.replaceChildren(syncReport(report));
      await fill(audit, async () => auditParts(await get('/api/admin/phone-numbers')));
    } catch (error) {
      if (error.status !== 401) result.replaceChildren(failure(error));
    } finally {
      sync.disabled = false;
    }
  });
  show(view, 'Numbers',
    section('Sync', h('p', {}, 'Rewires every business number that does not point at this server, and says what changed.'), h('div', { class: 'actions' }, sync), result),
    section('Audit', audit),
    section('Blocked for every business',
      h('p', {}, 'Calls from these numbers to any business are refused unanswered, and their texts get no reply. Each business also keeps its own list.'),
      blockedNumbers('/api/admin/blocked-numbers', { none: 'No number is blocked for every business.' })));
  await fill(audit, async () => auditParts(await get('/api/admin/phone-numbers')));
}
