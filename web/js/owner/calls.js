// Placeholder: this screen is being built.
import { show, h } from '../dom.js';

/** The calls screen. */
export async function render(view) {
  show(view, 'Calls', h('p', {}, 'This screen is coming soon.'));
}
