// Placeholder: this screen is being built.
import { show, h } from '../dom.js';

/** The businesses screen. */
export async function render(view) {
  show(view, 'Businesses', h('p', {}, 'This screen is coming soon.'));
}
