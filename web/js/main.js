// The app's shell: sign-in, the navigation for the signed-in role, and hash routes
// (`#/calls/12?status=all`) mapped to screen modules. Each screen module exports
// `render(view, route)`, where `route` is `{parts: ['calls', '12'], query: URLSearchParams}`.

import { clearSession, session } from './api.js';
import { h } from './dom.js';
import * as signin from './signin.js';

/** Screens of a business (customer token). */
const OWNER = {
  home: () => import('./owner/home.js'),
  calls: () => import('./owner/calls.js'),
  appointments: () => import('./owner/appointments.js'),
  settings: () => import('./owner/settings.js'),
};
const OWNER_NAV = [['home', 'Home'], ['calls', 'Calls'], ['appointments', 'Appointments'], ['settings', 'Settings']];

/** Screens of DeskRinger's staff (admin token), under `#/staff/...`. */
const STAFF = {
  dashboard: () => import('./staff/dashboard.js'),
  businesses: () => import('./staff/businesses.js'),
  numbers: () => import('./staff/numbers.js'),
  calendars: () => import('./staff/calendars.js'),
};
const STAFF_NAV = [['dashboard', 'Dashboard'], ['businesses', 'Businesses'], ['numbers', 'Numbers'], ['calendars', 'Calendars']];

/** `#/a/b?x=1` as `{parts: ['a', 'b'], query}`. */
export function currentRoute() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, search = ''] = hash.split('?');
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(search) };
}

/** Goes to `#/path`. */
export function go(path) {
  location.hash = `#/${path.replace(/^\//, '')}`;
}

function renderNav(items, prefix, active) {
  const nav = document.getElementById('nav');
  nav.replaceChildren(h('ul', {}, items.map(([key, text]) => h('li', {},
    h('a', { href: `#/${prefix}${key}`, 'aria-current': key === active ? 'page' : null }, text)))));
}

function renderAccount(current) {
  const account = document.getElementById('account');
  if (!current) {
    account.replaceChildren();
    return;
  }
  account.replaceChildren(
    h('span', {}, current.name || ''),
    h('button', { class: 'secondary', type: 'button', onclick: () => { clearSession(); go('signin'); } }, 'Sign out'));
}

let rendering = 0;

async function route() {
  const ticket = ++rendering;
  // A fresh #view per route, holding the old screen until the new one shows: a screen still
  // loading when the person moved on (Home's figures, say) then finishes into the detached
  // old element instead of covering the screen they went to.
  const old = document.getElementById('view');
  const view = old.cloneNode(false);
  view.append(...old.childNodes);
  old.replaceWith(view);
  const current = session();
  const where = currentRoute();
  renderAccount(current);
  if (!current || where.parts[0] === 'signin') {
    document.getElementById('nav').replaceChildren();
    if (current && where.parts[0] === 'signin') clearSession();
    renderAccount(null);
    signin.render(view, where);
    return;
  }
  const staff = current.role === 'admin';
  let key;
  let loader;
  if (staff) {
    if (where.parts[0] !== 'staff') return go('staff/dashboard');
    key = where.parts[1] || 'dashboard';
    loader = STAFF[key];
    renderNav(STAFF_NAV, 'staff/', key);
    where.parts = where.parts.slice(1);
  } else {
    key = where.parts[0] || 'home';
    loader = OWNER[key];
    renderNav(OWNER_NAV, '', key);
  }
  if (!loader) return go(staff ? 'staff/dashboard' : 'home');
  const module = await loader();
  if (ticket !== rendering) return;
  await module.render(view, where);
}

window.addEventListener('hashchange', route);
window.addEventListener('DOMContentLoaded', route);
