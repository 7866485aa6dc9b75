// Placeholder: this screen is being built.
import { show, h } from '../dom.js';

/** The dashboard screen. */
export async function render(view) {
  show(view, 'Dashboard', h('p', {}, 'This screen is coming soon.'));
}
