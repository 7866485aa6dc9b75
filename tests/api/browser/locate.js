// Run by WebDriver (tests/api/browser/page.rs), not served by the app: finds visible elements
// by what a person (or a screen reader) knows them by. arguments[0] is the target
// ({kind: 'label'|'role'|'css', key, name}), arguments[1] the options ({all, enabled}).
// Answers the first match (or null), or every match when `all`.
const [target, options] = arguments;

const collapse = (text) => (text || '').replace(/\s+/g, ' ').trim();
const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
const textOf = (el) => collapse(el.innerText !== undefined ? el.innerText : el.textContent);

// A simplified accessible name (the parts of the ARIA algorithm the app's markup uses).
function accessibleName(el) {
  const labelledBy = el.getAttribute('aria-labelledby');
  if (labelledBy) {
    return collapse(labelledBy.split(/\s+/).map((id) => {
      const node = document.getElementById(id);
      return node ? textOf(node) : '';
    }).join(' '));
  }
  const label = el.getAttribute('aria-label');
  if (label) return collapse(label);
  if (el.labels && el.labels.length) return collapse(Array.from(el.labels, textOf).join(' '));
  if (el.tagName === 'INPUT' && ['submit', 'button', 'reset'].includes(el.type)) return collapse(el.value);
  if (el.tagName === 'IMG') return collapse(el.getAttribute('alt'));
  if (['INPUT', 'SELECT', 'TEXTAREA'].includes(el.tagName)) return collapse(el.getAttribute('title'));
  return textOf(el) || collapse(el.getAttribute('title'));
}

// Tags that carry a role without a `role` attribute.
const IMPLICIT = {
  alert: '',
  button: 'button, input[type=submit], input[type=button], input[type=reset]',
  cell: 'td',
  checkbox: 'input[type=checkbox]',
  columnheader: 'th',
  combobox: 'select',
  dialog: 'dialog',
  form: 'form',
  heading: 'h1, h2, h3, h4, h5, h6',
  img: 'img:not([alt=""])',
  link: 'a[href]',
  list: 'ul, ol',
  listitem: 'li',
  main: 'main',
  navigation: 'nav',
  radio: 'input[type=radio]',
  region: 'section[aria-label], section[aria-labelledby]',
  row: 'tr',
  status: 'output',
  table: 'table',
  textbox: 'input:not([type]), input[type=text], input[type=email], input[type=tel], input[type=url], input[type=search], input[type=number], textarea',
};

function candidates() {
  const { kind, key, name } = target;
  if (kind === 'css') return Array.from(document.querySelectorAll(key));
  if (kind === 'label') {
    return Array.from(document.querySelectorAll('input, select, textarea, [role=textbox], [role=combobox], [role=checkbox], [role=radio], [role=switch]'))
      .filter((el) => accessibleName(el) === collapse(key));
  }
  const implicit = IMPLICIT[key];
  const byTag = implicit ? Array.from(document.querySelectorAll(implicit)).filter((el) => !el.hasAttribute('role')) : [];
  const byRole = Array.from(document.querySelectorAll(`[role="${CSS.escape(key)}"]`));
  // In document order, as a person reading the page meets them.
  const all = [...byRole, ...byTag].sort((a, b) => (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1));
  return name == null ? all : all.filter((el) => accessibleName(el) === collapse(name));
}

const found = candidates().filter((el) => visible(el) && !(options.enabled && el.disabled));
return options.all ? found : (found[0] || null);
