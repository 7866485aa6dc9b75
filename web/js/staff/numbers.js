// Placeholder: this screen is being built.
import { show, h } from '../dom.js';

/** The numbers screen. */
export async function render(view) {
  show(view, 'Numbers', h('p', {}, 'This screen is coming soon.'));
}
