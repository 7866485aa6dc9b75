// Staff: the businesses (search by name or email, filter by status, paged), a new business,
// and each business's page (business.js). The search lives in the URL
// (`#/staff/businesses?q=bella&status=trial&page=2`), so reload and Back keep it.

import { get, post, withQuery } from '../api.js';
import { checkbox, field, h, notify, onSubmit, pager, show } from '../dom.js';
import { dateTime } from '../format.js';
import { SUBSCRIPTION_STATUSES, badge, businessLink, copy, empty, fill, section, statusText, table } from './common.js';
import { timezoneOptions } from '../settings-fields.js';

/** Businesses a page. */
const PER_PAGE = 25;

/** `#/staff/businesses`, `#/staff/businesses/new` and `#/staff/businesses/{id}`. */
export async function render(view, route) {
  const [, id] = route.parts;
  if (id === 'new') return renderNew(view);
  if (id) {
    const business = await import('./business.js');
    return business.render(view, route, id);
  }
  return renderList(view, route);
}

function listHash(params) {
  return withQuery('#/staff/businesses', params);
}

async function renderList(view, route) {
  const q = route.query.get('q') || '';
  const status = route.query.get('status') || 'all';
  const page = Math.max(1, Number.parseInt(route.query.get('page') || '1', 10) || 1);

  const form = h('form', { class: 'card staff-search', role: 'search', novalidate: true },
    h('div', { class: 'staff-search-fields' },
      field('Name or email', 'q', { type: 'search', value: q, hint: 'Any part of the business name or email.' }),
      field('Status', 'status', { control: 'select', value: status, options: [['all', 'Any status'], ...SUBSCRIPTION_STATUSES.map((s) => [s, statusText(s)])] })),
    h('div', { class: 'actions' },
      h('button', { type: 'submit' }, 'Search'),
      q || status !== 'all' ? h('a', { class: 'button secondary', href: '#/staff/businesses' }, 'Show all') : null));
  onSubmit(form, async () => {
    const params = { q: form.elements.q.value.trim(), status: form.elements.status.value === 'all' ? '' : form.elements.status.value };
    const target = listHash(params);
    // The same search again still reloads (a hash that does not change fires no event).
    if (location.hash === target) await load();
    else location.hash = target;
  });

  const results = h('div', {});
  show(view, 'Businesses',
    h('div', { class: 'actions staff-page-actions' }, h('a', { class: 'button', href: '#/staff/businesses/new' }, 'New business')),
    form,
    section('Results', results));

  async function load() {
    await fill(results, async () => {
      const answer = await get(withQuery('/api/customers', { q, status: status === 'all' ? '' : status, page, per_page: PER_PAGE }));
      if (!answer.customers.length) {
        const text = q || status !== 'all' ? 'No business matches this search.' : 'No businesses yet.';
        notify(text);
        return empty(text);
      }
      if (q || status !== 'all') notify(`${answer.total} ${answer.total === 1 ? 'business matches' : 'businesses match'}.`);
      const go = (to) => { location.hash = listHash({ q, status: status === 'all' ? '' : status, page: to }); };
      return [
        h('p', { class: 'muted' }, `${answer.total} ${answer.total === 1 ? 'business' : 'businesses'}.`),
        table('Businesses, newest first', ['Business', 'Email', 'Status', 'Number', 'Created'],
          answer.customers.map((customer) => [
            businessLink(customer.id, customer.business_name),
            customer.email,
            badge(customer.subscription_status),
            customer.deskringer_number || '—',
            dateTime(customer.created_at, customer.timezone),
          ])),
        pager(answer.page, answer.pages, go),
      ];
    });
  }
  await load();
}

async function renderNew(view) {
  const form = h('form', { class: 'card', novalidate: true },
    field('Business name', 'business_name', { required: true, autocomplete: 'organization' }),
    field('Owner email', 'email', { type: 'email', required: true, hint: 'The owner signs in to the portal with it.' }),
    field('Contact name', 'contact_name', { autocomplete: 'off' }),
    field('Business phone', 'phone', { type: 'tel', hint: 'E.164, like +14155550123.' }),
    field('Time zone', 'timezone', { control: 'select', value: 'America/New_York', options: timezoneOptions('America/New_York') }),
    checkbox('Email the owner their sign-in details', 'send_welcome_email', true),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create business'), h('a', { class: 'button secondary', href: '#/staff/businesses' }, 'Back to businesses')));
  onSubmit(form, () => {
    const value = (name) => form.elements[name].value;
    return post('/api/customers', {
      business_name: value('business_name'),
      email: value('email'),
      contact_name: value('contact_name'),
      phone: value('phone'),
      timezone: value('timezone'),
      send_welcome_email: form.elements.send_welcome_email.checked,
    });
  }, (answer) => {
    const password = h('input', { id: 'temporary-password', type: 'text', readonly: true, value: answer.temporary_password, class: 'staff-mono' });
    const created = h('div', { class: 'success', tabindex: '-1' },
      h('p', {}, `${answer.customer.business_name} was created on a 7-day trial.`),
      h('label', { for: 'temporary-password' }, 'Temporary portal password (shown only this once)'),
      password,
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'secondary', onclick: () => copy(password) }, 'Copy password'),
        h('a', { class: 'button', href: `#/staff/businesses/${answer.customer.id}` }, 'Open the business')));
    form.replaceWith(created);
    created.focus();
  });
  show(view, 'New business', form);
}
