// Placeholder: this screen is being built.
import { show, h } from '../dom.js';

/** The home screen. */
export async function render(view) {
  show(view, 'Home', h('p', {}, 'This screen is coming soon.'));
}
