// The languages a receptionist can speak, and the rows that choose a business's (owner
// Settings and the staff settings form). The API names a bad entry `languages[2]` (or the
// whole list `languages`), so each row's select carries that name and the error lands next
// to it.

import { h } from './dom.js';

/**
 * Every supported BCP-47 code with its name: the same table as LANGUAGES in
 * src/receptionist/languages.rs (keep the two in step; the API refuses any other code).
 */
export const LANGUAGES = [
  ['en-US', 'English'],
  ['en-GB', 'English (UK)'],
  ['es-US', 'Spanish (US)'],
  ['es-MX', 'Spanish (Mexico)'],
  ['es-ES', 'Spanish (Spain)'],
  ['fr-FR', 'French (France)'],
  ['fr-CA', 'French (Canada)'],
  ['de-DE', 'German'],
  ['it-IT', 'Italian'],
  ['pt-BR', 'Portuguese (Brazil)'],
  ['pt-PT', 'Portuguese (Portugal)'],
  ['nl-NL', 'Dutch'],
];

/** Most languages a business serves (MAX_LANGUAGES in src/receptionist/languages.rs). */
export const MAX_LANGUAGES = 5;

let rowIds = 0;

/**
 * A fieldset (`name="languages"`) of one select per language, the main one first, with
 * "Add a language" and a remove button per row. `read()` answers the chosen codes in order.
 */
export function languageRows(codes, { hint = 'The receptionist greets callers in the first (main) language and offers the others. At most 5.' } = {}) {
  const rows = h('ol', { class: 'language-rows' });
  const add = h('button', { type: 'button', class: 'secondary' }, 'Add a language');
  const renumber = () => {
    [...rows.children].forEach((row, index) => {
      const select = row.querySelector('select');
      select.name = `languages[${index}]`;
      row.querySelector('label').textContent = index === 0 ? 'Language 1 (main)' : `Language ${index + 1}`;
      const remove = row.querySelector('button');
      remove.textContent = `Remove language ${index + 1}`;
      // The main language cannot go while it is the only one: the API needs one.
      remove.hidden = rows.children.length === 1;
    });
    add.disabled = rows.children.length >= MAX_LANGUAGES;
  };
  const addRow = (code, focus) => {
    const id = `language-${++rowIds}`;
    const known = LANGUAGES.some(([value]) => value === code);
    // A stored code the table no longer knows still shows (the API says what is wrong).
    const options = known ? LANGUAGES : [[code, code], ...LANGUAGES];
    const select = h('select', { id }, options.map(([value, name]) => h('option', { value, selected: value === code }, `${name} (${value})`)));
    const row = h('li', { class: 'language-row' },
      h('label', { for: id }, 'Language'),
      h('div', { class: 'language-choice' }, select,
        h('button', { type: 'button', class: 'secondary', onclick: () => {
          const next = row.nextElementSibling || row.previousElementSibling;
          row.remove();
          renumber();
          (next ? next.querySelector('select') : add).focus();
        } }, 'Remove')));
    rows.append(row);
    renumber();
    if (focus) select.focus();
  };
  add.addEventListener('click', () => {
    const chosen = new Set([...rows.querySelectorAll('select')].map((select) => select.value.split('-')[0]));
    const next = LANGUAGES.find(([code]) => !chosen.has(code.split('-')[0])) || LANGUAGES[0];
    addRow(next[0], true);
  });
  (codes && codes.length ? codes : ['en-US']).forEach((code) => addRow(code, false));
  const fieldset = h('fieldset', { class: 'languages', name: 'languages' },
    h('legend', {}, 'Languages the receptionist speaks'),
    hint ? h('p', { class: 'hint' }, hint) : null,
    rows,
    h('div', { class: 'actions' }, add));
  return { element: fieldset, read: () => [...rows.querySelectorAll('select')].map((select) => select.value) };
}
