// Placeholder: this screen is being built.
import { show, h } from '../dom.js';

/** The settings screen. */
export async function render(view) {
  show(view, 'Settings', h('p', {}, 'This screen is coming soon.'));
}
