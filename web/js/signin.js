// Sign-in for business owners (portal login) and DeskRinger staff (admin login).

import { post, saveSession } from './api.js';
import { field, h, onSubmit, show } from './dom.js';

/** The sign-in screen. `#/signin?as=staff` opens it on the staff choice. */
export function render(view, route) {
  const staff = route.query.get('as') === 'staff';
  const reason = sessionStorage.getItem('deskringer.signin-reason');
  sessionStorage.removeItem('deskringer.signin-reason');
  const form = h('form', { class: 'card signin', novalidate: true },
    reason ? h('p', { class: 'alert', role: 'alert' }, reason) : null,
    h('fieldset', {},
      h('legend', {}, 'I am'),
      h('div', { class: 'check' }, h('input', { type: 'radio', id: 'as-owner', name: 'as', value: 'customer', checked: !staff }), h('label', { for: 'as-owner' }, 'a business owner')),
      h('div', { class: 'check' }, h('input', { type: 'radio', id: 'as-staff', name: 'as', value: 'admin', checked: staff }), h('label', { for: 'as-staff' }, 'DeskRinger staff'))),
    field('Email', 'email', { type: 'email', autocomplete: 'username', required: true }),
    field('Password', 'password', { type: 'password', autocomplete: 'current-password', required: true }),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Sign in')));
  onSubmit(form, async () => {
    const role = form.elements.as.value;
    const body = { email: form.elements.email.value, password: form.elements.password.value };
    const answer = await post(role === 'admin' ? '/api/admin/login' : '/api/portal/login', body, { auth: false });
    const who = role === 'admin' ? answer.admin : answer.customer;
    saveSession({ token: answer.access_token, role, name: who.business_name || who.name || who.email });
    location.hash = role === 'admin' ? '#/staff/dashboard' : '#/home';
  });
  show(view, 'Sign in to DeskRinger', form);
}
