// Staff: one business's page (`#/staff/businesses/{id}`): its standing, number, calls,
// appointments, settings, Stripe links, portal password, and cancelling it.
// Times are shown in the business's time zone.

import { del, get, post, put, withQuery } from '../api.js';
import { failure, field, h, notify, onSubmit, pager, show } from '../dom.js';
import { addDays, dateTime, duration, today } from '../format.js';
import { badge, confirmButton, copy, empty, fill, section, table } from './common.js';
import { detailsForm, receptionistForm } from './settings-form.js';

/** Calls a page on a business's page. */
const CALLS_PER_PAGE = 10;
/** Days of appointments shown at first. */
const APPOINTMENT_DAYS = 30;

/** Renders the business `id`. */
export async function render(view, route, id) {
  let customer;
  try {
    customer = await get(`/api/customers/${encodeURIComponent(id)}`);
  } catch (error) {
    if (error.status === 401) return;
    show(view, 'Business', failure(error), h('p', {}, h('a', { href: '#/staff/businesses' }, 'Back to businesses')));
    return;
  }
  const page = new BusinessPage(view, customer);
  page.draw();
}

/** Moves focus to the heading of the section holding `part` (after it was redrawn). */
function focusHeading(part) {
  const heading = part.closest('section').querySelector('h2');
  heading.setAttribute('tabindex', '-1');
  heading.focus();
}

class BusinessPage {
  constructor(view, customer) {
    this.view = view;
    this.customer = customer;
    this.summary = h('div', {});
    this.number = h('div', {});
    this.details = h('div', {});
    this.settings = h('div', {});
    this.ending = h('div', {});
  }

  get path() {
    return `/api/customers/${this.customer.id}`;
  }

  get zone() {
    return this.customer.timezone;
  }

  draw() {
    const sections = [
      section('Phone number', this.number),
      section('Calls', this.callsPart()),
      section('Appointments', this.appointmentsPart()),
      section('Business details', this.details),
      section('Receptionist settings', this.settings),
      section('Billing (Stripe)', this.billingPart()),
      section('Portal password', this.passwordPart()),
      section('Cancel the business', this.ending),
    ];
    // Buttons, not `#fragment` links: the hash is the app's route.
    const jumps = h('nav', { class: 'staff-jumps', 'aria-label': 'On this page' },
      h('ul', {}, sections.map((part) => {
        const title = part.querySelector('h2').textContent;
        return h('li', {}, h('button', { type: 'button', class: 'secondary', onclick: () => {
          part.scrollIntoView({ block: 'start' });
          focusHeading(part.querySelector('h2'));
        } }, title));
      })));
    show(this.view, this.customer.business_name,
      h('p', {}, h('a', { href: '#/staff/businesses' }, 'Back to businesses')),
      this.summary,
      jumps,
      sections);
    this.update(this.customer, { forms: true });
  }

  /** Redraws what shows the business's fields (and its forms, when asked). */
  update(customer, { forms = false } = {}) {
    this.customer = customer;
    this.summary.replaceChildren(this.summaryPart());
    this.number.replaceChildren(...this.numberPart());
    this.ending.replaceChildren(this.endingPart());
    if (forms) {
      this.details.replaceChildren(detailsForm(customer, (fresh) => this.saved(fresh, this.details)));
      this.settings.replaceChildren(receptionistForm(customer, (fresh) => this.saved(fresh, this.settings)));
    }
  }

  /** After a save: the fresh business everywhere, focus on the saved section's heading. */
  saved(customer, part) {
    this.update(customer, { forms: true });
    focusHeading(part);
  }

  async reload() {
    this.update(await get(this.path), { forms: true });
  }

  summaryPart() {
    const c = this.customer;
    const item = (term, value) => [h('dt', {}, term), h('dd', {}, value)];
    return h('dl', { class: 'card staff-facts' },
      item('Status', badge(c.subscription_status)),
      item('Plan', c.subscription_tier),
      item('Number', c.deskringer_number || 'None yet'),
      item('Email', c.email),
      item('Time zone', c.timezone),
      item('Trial ends', dateTime(c.trial_ends_at, c.timezone)),
      item('Created', dateTime(c.created_at, c.timezone)),
      c.cancelled_at ? item('Cancelled', dateTime(c.cancelled_at, c.timezone)) : null);
  }

  numberPart() {
    const c = this.customer;
    if (c.deskringer_number) {
      return [
        h('p', {}, 'Callers reach the receptionist on ', h('strong', {}, c.deskringer_number), '.'),
        confirmButton('Release this number', `Release ${c.deskringer_number}? It goes back to Twilio and callers to it will no longer reach this business.`,
          `Yes, release ${c.deskringer_number}`, async () => {
            const answer = await del(`${this.path}/phone-number`);
            notify(answer.message || 'The number was released.');
            await this.reload();
            focusHeading(this.number);
          }),
      ];
    }
    const buy = h('form', { novalidate: true },
      h('h3', {}, 'Buy a new number'),
      field('Area code', 'area_code', { inputmode: 'numeric', hint: 'Three digits, like 415. Empty for any.', autocomplete: 'off' }),
      field('Containing digits (optional)', 'contains', { autocomplete: 'off', hint: '2 to 16 digits or letters; * matches any digit.' }),
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Buy a number')));
    onSubmit(buy, () => post(`${this.path}/phone-number`, { area_code: buy.elements.area_code.value, contains: buy.elements.contains.value }),
      (customer) => this.numberChanged(customer, `Bought ${customer.deskringer_number}.`));
    const attach = h('form', { novalidate: true },
      h('h3', {}, 'Give it a number already on the account'),
      field('Number', 'phone_number', { type: 'tel', hint: 'E.164, like +14155550123.', autocomplete: 'off' }),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'secondary' }, 'Attach this number')));
    onSubmit(attach, () => put(`${this.path}/phone-number`, { phone_number: attach.elements.phone_number.value }),
      (customer) => this.numberChanged(customer, `${customer.deskringer_number} now answers for this business.`));
    return [h('p', {}, 'This business has no number yet.'), h('div', { class: 'grid' }, buy, attach)];
  }

  numberChanged(customer, message) {
    notify(message);
    this.update(customer, { forms: true });
    focusHeading(this.number);
  }

  callsPart() {
    const body = h('div', {});
    // Calls and text conversations (`channel`), both by default.
    const kind = field('Kind', 'channel', { control: 'select', value: 'all', options: [['all', 'Calls and texts'], ['voice', 'Calls only'], ['sms', 'Texts only']] });
    const channel = kind.querySelector('select');
    const load = (page) => fill(body, async () => {
      const chosen = channel.value === 'all' ? null : channel.value;
      const answer = await get(withQuery('/api/calls', { customer_id: this.customer.id, admin_view: true, channel: chosen, page, per_page: CALLS_PER_PAGE }));
      if (!answer.calls.length) return empty({ voice: 'No calls yet.', sms: 'No text conversations yet.' }[chosen] || 'No calls or texts yet.');
      return [
        h('p', { class: 'muted' }, `${answer.total} ${answer.total === 1 ? 'conversation' : 'conversations'}, newest first.`),
        table('Calls and texts, newest first', ['When', 'Kind', 'Caller', 'Status', 'Length', 'Handled', 'Summary'],
          answer.calls.map((call) => [
            dateTime(call.created_at, this.zone),
            call.channel === 'sms' ? 'Text' : 'Call',
            [call.caller_name ? h('div', {}, call.caller_name) : null, h('div', {}, call.caller_phone || '—')],
            badge(call.status),
            duration(call.duration_seconds),
            call.handled ? 'Yes' : 'No',
            call.summary || '—',
          ])),
        pager(answer.page, answer.pages, async (to) => {
          await load(to);
          body.querySelector('table')?.setAttribute('tabindex', '-1');
          body.querySelector('table')?.focus();
        }),
      ];
    });
    channel.addEventListener('change', () => load(1));
    load(1);
    return h('div', {}, kind, body);
  }

  appointmentsPart() {
    const from = today(this.zone);
    const form = h('form', { class: 'staff-range', novalidate: true },
      field('From', 'from', { type: 'date', value: from }),
      field('Until (not included)', 'to', { type: 'date', value: addDays(from, APPOINTMENT_DAYS) }),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'secondary' }, 'Show appointments')));
    const list = h('div', {});
    const showRange = async () => {
      const answer = await get(withQuery(`${this.path}/appointments`, { from: form.elements.from.value, to: form.elements.to.value }));
      list.replaceChildren(...this.appointmentRows(answer));
      notify(answer.total ? `${answer.total} ${answer.total === 1 ? 'appointment' : 'appointments'}.` : 'No appointments in these dates.');
    };
    onSubmit(form, showRange);
    fill(list, async () => {
      const answer = await get(withQuery(`${this.path}/appointments`, { from, to: addDays(from, APPOINTMENT_DAYS) }));
      return this.appointmentRows(answer);
    });
    return h('div', {}, h('p', { class: 'muted' }, `Read-only. Dates are in the business's time zone (${this.zone}).`), form, list);
  }

  appointmentRows(answer) {
    if (!answer.appointments.length) return [empty('No appointments in these dates.')];
    return [
      h('p', { class: 'muted' }, `${answer.total} ${answer.total === 1 ? 'appointment' : 'appointments'}.`),
      table('Appointments in these dates', ['When', 'Service', 'Caller', 'Notes', 'Status', 'Booked by'],
        answer.appointments.map((a) => [
          `${dateTime(a.starts_at, this.zone)} (${a.minutes} min)`,
          a.service,
          [h('div', {}, a.caller_name), h('div', {}, a.caller_phone || '')],
          a.notes || '—',
          badge(a.status),
          a.source,
        ])),
    ];
  }

  billingPart() {
    const output = h('div', { role: 'status' });
    const id = this.customer.id;
    const run = (button, action) => async () => {
      button.disabled = true;
      try {
        output.replaceChildren(...await action());
      } catch (error) {
        if (error.status !== 401) output.replaceChildren(failure(error));
      } finally {
        button.disabled = false;
      }
    };
    const linkResult = (label, url) => {
      const input = h('input', { id: `link-${id}`, type: 'text', readonly: true, value: url, class: 'staff-mono' });
      return [
        h('label', { for: `link-${id}` }, label),
        input,
        h('div', { class: 'actions' },
          h('a', { class: 'button secondary', href: url, target: '_blank', rel: 'noopener noreferrer' }, 'Open it'),
          h('button', { type: 'button', class: 'secondary', onclick: () => copy(input) }, 'Copy link')),
      ];
    };
    const paymentLink = h('button', { type: 'button', class: 'secondary' }, 'Create a payment link');
    paymentLink.addEventListener('click', run(paymentLink, async () => {
      const answer = await post(`/api/stripe/create-payment-link/${id}`);
      return linkResult('Payment link to send the owner', answer.payment_link);
    }));
    const checkout = h('button', { type: 'button', class: 'secondary' }, 'Create a checkout session');
    checkout.addEventListener('click', run(checkout, async () => {
      const answer = await post(`/api/stripe/create-checkout-session/${id}`);
      return linkResult('Checkout page', answer.checkout_url);
    }));
    const status = h('button', { type: 'button', class: 'secondary' }, 'Check the subscription');
    status.addEventListener('click', run(status, async () => {
      const answer = await get(`/api/stripe/subscription-status/${id}`);
      const item = (term, value) => [h('dt', {}, term), h('dd', {}, value)];
      return [h('dl', { class: 'staff-facts' },
        item('Status', badge(answer.status)),
        item('Stripe subscription', answer.has_stripe_subscription ? 'Yes' : 'No'),
        answer.current_period_end !== undefined ? item('Current period ends', dateTime(answer.current_period_end, this.zone)) : null,
        answer.cancel_at_period_end !== undefined ? item('Cancels at period end', answer.cancel_at_period_end ? 'Yes' : 'No') : null)];
    }));
    const cancel = confirmButton('Cancel the subscription', 'Cancel this business\'s Stripe subscription at the end of the period it has paid for?',
      'Yes, cancel the subscription', async () => {
        const answer = await post(`/api/stripe/cancel-subscription/${id}`);
        output.replaceChildren(h('p', { class: 'success' }, answer.message, answer.cancel_at ? ` It ends ${dateTime(answer.cancel_at, this.zone)}.` : ''));
        await this.reload();
        cancel.replaceChildren(h('p', { class: 'muted' }, 'Cancellation asked for.'));
      });
    return h('div', {}, h('div', { class: 'actions' }, paymentLink, checkout, status), h('div', { class: 'actions' }, cancel), output);
  }

  passwordPart() {
    const form = h('form', { novalidate: true },
      h('p', { class: 'hint' }, 'Gives the owner a new password to sign in to the portal with. Tell it to them yourself.'),
      field('New portal password', 'password', { type: 'password', autocomplete: 'new-password', hint: 'At least 8 characters.' }),
      h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Set the password')));
    onSubmit(form, () => post(`${this.path}/set-password`, { password: form.elements.password.value }), (answer) => {
      form.reset();
      notify(`${answer.message} for ${answer.customer.email}.`);
    });
    return form;
  }

  endingPart() {
    const c = this.customer;
    if (c.subscription_status === 'cancelled') {
      return h('p', {}, `This business was cancelled ${dateTime(c.cancelled_at, c.timezone)}. Its calls are kept.`);
    }
    return h('div', {},
      h('p', {}, 'Cancelling stops the receptionist and the owner\'s access. Calls are kept.'),
      confirmButton('Cancel this business', `Cancel ${c.business_name}? Its receptionist stops answering and its owner can no longer sign in.`,
        'Yes, cancel the business', async () => {
          const answer = await del(this.path);
          notify(answer.message || 'The business was cancelled.');
          await this.reload();
          focusHeading(this.ending);
        }));
  }
}
