// Placeholder: this screen is being built.
import { show, h } from '../dom.js';

/** The appointments screen. */
export async function render(view) {
  show(view, 'Appointments', h('p', {}, 'This screen is coming soon.'));
}
