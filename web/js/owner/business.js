// What the owner screens share: the signed-in business, and links into a section of a
// screen (`#/settings?section=hours`), which the screen scrolls to and focuses.

import { get } from '../api.js';
import { h } from '../dom.js';

/** The signed-in business (GET /api/portal/me): its settings and `timezone`. */
export function loadBusiness() {
  return get('/api/portal/me');
}

/** A link to `section` of the settings screen. */
export function settingsLink(section, text) {
  return h('a', { href: `#/settings?section=${encodeURIComponent(section)}` }, text);
}

/**
 * After a screen rendered: when the route names a section (`?section=hours`), moves focus to
 * that section's heading (an element with `data-section`), so the owner lands where the
 * link promised and a screen reader reads it out.
 */
export function focusSection(view, route) {
  const section = route.query.get('section');
  if (!section) return;
  const target = view.querySelector(`[data-section="${CSS.escape(section)}"]`);
  if (!target) return;
  target.setAttribute('tabindex', '-1');
  target.scrollIntoView({ block: 'start' });
  target.focus();
}

/** Who called: their name, else their number, else "Unknown caller". */
export function callerOf(call) {
  return call.caller_name || call.caller_phone || 'Unknown caller';
}
