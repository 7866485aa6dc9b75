// Building the page. Text from callers and businesses is only ever set as text (never as
// HTML): `h()` takes strings as text nodes, and nothing here uses innerHTML.

/**
 * An element: `h('button', {class: 'secondary', onclick: fn}, 'Save')`. Attributes named
 * `on…` become listeners; `true` sets a boolean attribute, `false`/null/undefined leave it out.
 * Children are nodes, strings (as text), numbers, arrays of these, or null (skipped).
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      element.addEventListener(key.slice(2), value);
    } else if (key === 'value' && 'value' in element) {
      element.value = value;
    } else if (key === 'checked' || key === 'selected') {
      element[key] = Boolean(value);
    } else {
      element.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else if (child instanceof Node) element.appendChild(child);
    else element.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces the view's content and moves focus to its heading (for screen readers). */
export function show(view, title, ...children) {
  const heading = h('h1', { tabindex: '-1' }, title);
  view.replaceChildren(heading, ...children.flat().filter(Boolean));
  // A screen drawn after the person moved on (no longer on the page) keeps the title.
  if (view.isConnected) document.title = `${title} · DeskRinger`;
  heading.focus();
  return heading;
}

let fieldIds = 0;

/**
 * A labelled form control. `control` is 'input' (default), 'textarea' or 'select';
 * `options` for a select are `[value, text]` pairs. The control's `name` is the API's field
 * path, so the API's `details` find it.
 */
export function field(label, name, { type = 'text', value = '', hint = '', control = 'input', options = [], required = false, autocomplete, inputmode, min, max, step } = {}) {
  const id = `f${++fieldIds}`;
  const hintId = hint ? `${id}-hint` : null;
  let input;
  if (control === 'select') {
    input = h('select', { id, name, required }, options.map(([optionValue, text]) => h('option', { value: optionValue, selected: String(optionValue) === String(value) }, text)));
  } else if (control === 'textarea') {
    input = h('textarea', { id, name, required, 'aria-describedby': hintId }, value ?? '');
  } else {
    input = h('input', { id, name, type, value: value ?? '', required, autocomplete, inputmode, min, max, step, 'aria-describedby': hintId });
  }
  return h('div', { class: 'field' }, h('label', { for: id }, label), hint ? h('p', { class: 'hint', id: hintId }, hint) : null, input);
}

/** A checkbox with its label after it. */
export function checkbox(label, name, checked = false) {
  const id = `f${++fieldIds}`;
  return h('div', { class: 'check' }, h('input', { type: 'checkbox', id, name, checked }), h('label', { for: id, style: null }, label));
}

/** Removes the errors a previous submit showed on `form`. */
export function clearErrors(form) {
  form.querySelectorAll('.field-error, .form-error').forEach((node) => node.remove());
  form.querySelectorAll('[aria-invalid]').forEach((node) => {
    node.removeAttribute('aria-invalid');
    const describedBy = (node.getAttribute('aria-describedby') || '').split(' ').filter((id) => id && !id.endsWith('-error'));
    if (describedBy.length) node.setAttribute('aria-describedby', describedBy.join(' '));
    else node.removeAttribute('aria-describedby');
  });
}

/**
 * Shows an API error on `form`: its message at the top (focused, so it is read out), and each
 * entry of `details` next to the control whose `name` is that field path, in the API's words.
 */
export function showErrors(form, error) {
  clearErrors(form);
  const summary = h('div', { class: 'form-error', role: 'alert', tabindex: '-1' }, error.message || 'Something went wrong.');
  form.prepend(summary);
  const details = error.details || {};
  for (const [path, reason] of Object.entries(details)) {
    const control = form.querySelector(`[name="${CSS.escape(path)}"]`);
    if (!control) continue;
    const errorId = `${control.id || path.replace(/\W/g, '_')}-error`;
    const message = h('p', { class: 'field-error', id: errorId }, typeof reason === 'string' ? reason : JSON.stringify(reason));
    control.setAttribute('aria-invalid', 'true');
    const describedBy = (control.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
    control.setAttribute('aria-describedby', [...describedBy, errorId].join(' '));
    control.insertAdjacentElement('afterend', message);
  }
  summary.focus();
}

/**
 * Wires `form`'s submit to `action(form)`: the submit button is disabled while it runs,
 * errors are shown on the form, and `done(result)` runs on success.
 */
export function onSubmit(form, action, done) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const buttons = form.querySelectorAll('button[type="submit"], button:not([type])');
    buttons.forEach((button) => { button.disabled = true; });
    clearErrors(form);
    try {
      const result = await action(form);
      if (done) await done(result);
    } catch (error) {
      // Not `status !== 401`: sign-in's own 401 ("invalid email or password") must show.
      if (!error.sessionEnded) showErrors(form, error);
    } finally {
      buttons.forEach((button) => { button.disabled = false; });
    }
  });
  return form;
}

/** A short message in the page's live region (read out by screen readers). */
export function notify(text) {
  const notice = document.getElementById('notice');
  notice.textContent = text;
  clearTimeout(notify.timer);
  notify.timer = setTimeout(() => { notice.textContent = ''; }, 8000);
}

/** A failed load shown in place of a screen's content. */
export function failure(error) {
  return h('div', { class: 'alert', role: 'alert' }, error.message || 'Something went wrong.');
}

/** Previous / next buttons for a paged list `{page, pages}`; `go(page)` loads a page. */
export function pager(page, pages, go) {
  if (pages <= 1) return null;
  return h('nav', { class: 'pager', 'aria-label': 'Pages' },
    h('button', { class: 'secondary', disabled: page <= 1, onclick: () => go(page - 1) }, 'Previous'),
    h('span', {}, `Page ${page} of ${pages}`),
    h('button', { class: 'secondary', disabled: page >= pages, onclick: () => go(page + 1) }, 'Next'));
}
