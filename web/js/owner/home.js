// Home: the set-up checklist with each step's action in place, today's figures and the
// latest calls that still need the owner. Stripe Checkout comes back here
// (`/app/?checkout=success#/home` or `?checkout=cancelled`), and the page says how it went.

import { ApiError, get, post, withQuery } from '../api.js';
import { failure, h, notify, show } from '../dom.js';
import { dateTime, duration } from '../format.js';
import { callerOf, loadBusiness, settingsLink } from './business.js';

/** Where each checklist step is done, when it is done in the settings screen. */
const SETTINGS_STEPS = {
  business_details: ['details', 'Add your business details', 'Change business details'],
  hours: ['hours', 'Set your opening hours', 'Change opening hours'],
  greeting: ['receptionist', 'Write your greeting', 'Change the greeting'],
  services_faqs: ['receptionist', 'Describe your services', 'Change services and FAQs'],
  booking: ['booking', 'Add services callers can book', 'Change services to book'],
  forward_number: ['notifications', 'Add a transfer number', 'Change the transfer number'],
  notifications: ['notifications', 'Choose where call summaries go', 'Change call notifications'],
};

/** How often, and how many times, the checklist is read again while Stripe confirms a payment. */
const CONFIRM_POLL_MS = 3000;
const CONFIRM_POLLS = 10;

/** The home screen. */
export async function render(view) {
  const checkout = takeCheckoutReturn();
  view.replaceChildren(h('p', {}, 'Loading…'));
  let onboarding;
  let stats;
  let calls;
  let business;
  try {
    [onboarding, stats, calls, business] = await Promise.all([
      get('/api/portal/onboarding'),
      get('/api/portal/stats'),
      get(withQuery('/api/portal/calls', { status: 'unhandled', limit: 5 })),
      loadBusiness(),
    ]);
  } catch (error) {
    show(view, 'Home', failure(error));
    return;
  }
  const checklist = h('div', {});
  const renderChecklist = (data) => checklist.replaceChildren(...checklistContent(data, business));
  renderChecklist(onboarding);
  show(view, 'Home',
    checkoutMessage(checkout),
    h('section', { 'aria-labelledby': 'home-setup' }, h('h2', { id: 'home-setup' }, 'Setting up'), checklist),
    figures(stats),
    attention(calls, business.timezone));
  if (checkout === 'success' && !stepDone(onboarding, 'subscription')) waitForSubscription(renderChecklist);
}

/**
 * The outcome Stripe Checkout came back with (`success`, `cancelled` or null), removed from
 * the address so a reload does not show it again.
 */
function takeCheckoutReturn() {
  const params = new URLSearchParams(location.search);
  const outcome = params.get('checkout');
  if (!outcome) return null;
  history.replaceState(null, '', `${location.pathname}${location.hash}`);
  return outcome === 'success' || outcome === 'cancelled' ? outcome : null;
}

function checkoutMessage(outcome) {
  if (outcome === 'success') {
    return h('p', { class: 'success', role: 'status' },
      'Thank you: your payment went through. Your subscription starts as soon as Stripe confirms it, usually within a minute.');
  }
  if (outcome === 'cancelled') {
    return h('p', { class: 'info', role: 'status' },
      'Checkout was cancelled and nothing was charged. You can subscribe whenever you are ready.');
  }
  return null;
}

function stepDone(onboarding, key) {
  return onboarding.steps.some((step) => step.key === key && step.done);
}

/** Reads the checklist again every few seconds until Stripe's confirmation arrives (or gives up). */
function waitForSubscription(renderChecklist) {
  let polls = 0;
  const timer = setInterval(async () => {
    polls += 1;
    // The owner went to another screen: stop.
    if (!document.getElementById('home-setup') || polls > CONFIRM_POLLS) {
      clearInterval(timer);
      return;
    }
    try {
      const fresh = await get('/api/portal/onboarding');
      if (stepDone(fresh, 'subscription')) {
        clearInterval(timer);
        renderChecklist(fresh);
        notify('Your subscription is active.');
      }
    } catch {
      clearInterval(timer);
    }
  }, CONFIRM_POLL_MS);
}

function checklistContent(onboarding, business) {
  const done = onboarding.steps.filter((step) => step.done).length;
  const total = onboarding.steps.length;
  const summary = onboarding.complete
    ? h('p', { class: 'success' }, business.deskringer_number
      ? `All set: your receptionist answers calls to ${business.deskringer_number}.`
      : 'All set: your receptionist is live.')
    : h('p', {}, `${done} of ${total} steps done.`);
  const hasCalendarStep = onboarding.steps.some((step) => step.key === 'calendar');
  return [
    summary,
    h('ol', { class: 'steps checklist' }, onboarding.steps.map((step) => stepItem(step))),
    hasCalendarStep ? null : h('p', { class: 'muted' },
      'Optional: connect Google Calendar or Cal.com so bookings land in your own calendar. ',
      h('a', { href: '#/appointments?section=calendar' }, 'Connect a calendar')),
  ];
}

function stepItem(step) {
  const status = h('p', { class: 'step-result', role: 'status' });
  return h('li', { 'data-step': step.key },
    h('div', { class: 'step-text' },
      h('strong', {}, step.title), ' ',
      h('span', { class: `badge ${step.done ? 'ok' : 'warn'}` }, step.done ? 'Done' : 'To do'),
      step.missing ? h('p', { class: 'muted step-missing' }, `Missing: ${step.missing}`) : null,
      status),
    h('div', { class: 'step-action' }, stepAction(step, status)));
}

/** The control that does the step, right next to it. */
function stepAction(step, status) {
  const inSettings = SETTINGS_STEPS[step.key];
  if (inSettings) {
    const [section, todo, change] = inSettings;
    return settingsLink(section, step.done ? change : todo);
  }
  switch (step.key) {
    case 'subscription':
      return step.done ? null : h('button', { type: 'button', onclick: (event) => subscribe(event.currentTarget, status) }, 'Subscribe');
    case 'test_call':
      return h('button', { type: 'button', class: step.done ? 'secondary' : null, onclick: (event) => testCall(event.currentTarget, status) },
        step.done ? 'Place another test call' : 'Place a test call');
    case 'calendar':
      return step.done ? null : h('a', { href: '#/appointments?section=calendar' }, 'Reconnect your calendar');
    default:
      return null;
  }
}

/** Opens Stripe Checkout; Stripe sends the browser back to this screen. */
async function subscribe(button, status) {
  button.disabled = true;
  status.replaceChildren();
  try {
    const answer = await post(withQuery('/api/portal/subscribe', { return_to: 'app' }));
    status.textContent = 'Opening Stripe Checkout…';
    location.assign(answer.checkout_url);
  } catch (error) {
    button.disabled = false;
    if (error.status !== 401) showStepError(status, error);
  }
}

/** Rings the owner's phone with the receptionist. */
async function testCall(button, status) {
  button.disabled = true;
  status.replaceChildren();
  try {
    const answer = await post('/api/portal/test-call');
    status.className = 'step-result success';
    status.textContent = answer.message;
  } catch (error) {
    if (error.status !== 401) showStepError(status, error);
  } finally {
    button.disabled = false;
  }
}

/** An API error next to its step, in the API's words, with a way to fix a field it names. */
function showStepError(status, error) {
  status.className = 'step-result field-error';
  const fields = error instanceof ApiError && error.details ? Object.keys(error.details) : [];
  const fix = fields.some((field) => field === 'phone' || field === 'notification_phone')
    ? [' ', settingsLink('details', 'Open your details')] : [];
  status.replaceChildren(error.message, ...fix);
}

function figures(stats) {
  const figure = (label, value) => h('div', { class: 'card' }, h('p', { class: 'muted figure-label' }, label), h('p', { class: 'figure' }, value));
  return h('section', { 'aria-labelledby': 'home-figures' },
    h('h2', { id: 'home-figures' }, 'Today'),
    h('div', { class: 'grid figures' },
      figure('Calls today', stats.calls_today),
      figure('Calls needing attention', stats.unhandled_calls),
      figure('Upcoming appointments', stats.appointments_upcoming),
      figure('Booked by phone (30 days)', stats.appointments_booked_by_phone),
      figure('Average call', duration(stats.avg_duration_seconds)),
      figure('All calls', stats.total_calls),
      typeof stats.blocked_calls === 'number' ? figure('Blocked calls (30 days)', stats.blocked_calls) : null));
}

function attention(list, timeZone) {
  const heading = h('h2', { id: 'home-attention' }, 'Calls needing attention');
  if (!list.calls.length) {
    return h('section', { 'aria-labelledby': 'home-attention' }, heading, h('p', { class: 'muted' }, 'No calls are waiting for you.'));
  }
  return h('section', { 'aria-labelledby': 'home-attention' }, heading,
    h('ul', { class: 'call-list' }, list.calls.map((call) => h('li', {},
      h('a', { href: `#/calls/${call.id}` }, callerOf(call)),
      h('span', { class: 'muted' }, ` · ${dateTime(call.created_at, timeZone)}`),
      call.callback_requested ? h('span', {}, ' ', h('span', { class: 'badge warn' }, 'Wants a call back')) : null,
      call.summary ? h('p', { class: 'call-summary' }, call.summary) : null))),
    list.total > list.calls.length
      ? h('p', {}, h('a', { href: '#/calls?status=unhandled' }, `See all ${list.total} calls needing attention`))
      : null);
}
