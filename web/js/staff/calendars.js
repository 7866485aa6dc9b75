// Placeholder: this screen is being built.
import { show, h } from '../dom.js';

/** The calendars screen. */
export async function render(view) {
  show(view, 'Calendars', h('p', {}, 'This screen is coming soon.'));
}
