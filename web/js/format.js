// Dates, times and money for people, in the business's time zone.

/** "Mon 7 Dec, 14:30" for an RFC 3339 instant, in `timeZone` (an IANA name). */
export function dateTime(iso, timeZone) {
  if (!iso) return '—';
  return new Intl.DateTimeFormat(undefined, { timeZone: timeZone || undefined, weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' }).format(new Date(iso));
}

/** "14:30" for an instant, in `timeZone`. */
export function time(iso, timeZone) {
  if (!iso) return '—';
  return new Intl.DateTimeFormat(undefined, { timeZone: timeZone || undefined, hour: '2-digit', minute: '2-digit' }).format(new Date(iso));
}

/** "Monday 7 December 2026" for a calendar date `YYYY-MM-DD` (no time zone shift). */
export function longDate(isoDate) {
  const [year, month, day] = isoDate.split('-').map(Number);
  return new Intl.DateTimeFormat(undefined, { timeZone: 'UTC', weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' }).format(new Date(Date.UTC(year, month - 1, day)));
}

/** Today's date `YYYY-MM-DD` in `timeZone`. */
export function today(timeZone) {
  return dateIn(new Date(), timeZone);
}

/** The calendar date `YYYY-MM-DD` of an instant in `timeZone`. */
export function dateIn(instant, timeZone) {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: timeZone || undefined, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(new Date(instant));
  const get = (type) => parts.find((part) => part.type === type).value;
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/** `YYYY-MM-DD` plus `days`. */
export function addDays(isoDate, days) {
  const [year, month, day] = isoDate.split('-').map(Number);
  const date = new Date(Date.UTC(year, month - 1, day + days));
  return date.toISOString().slice(0, 10);
}

/**
 * The UTC instant (RFC 3339) of the wall-clock `date` `YYYY-MM-DD` and `clock` `HH:MM` in
 * `timeZone`. Found by correcting a first guess with the zone's offset at that instant, twice,
 * so it lands right on daylight-saving change days too.
 */
export function instantOf(date, clock, timeZone) {
  const [year, month, day] = date.split('-').map(Number);
  const [hour, minute] = clock.split(':').map(Number);
  const wanted = Date.UTC(year, month - 1, day, hour, minute);
  let guess = wanted;
  for (let i = 0; i < 2; i += 1) {
    guess = wanted - offsetMinutes(guess, timeZone) * 60000;
  }
  return new Date(guess).toISOString().replace('.000Z', 'Z');
}

/** The zone's offset from UTC in minutes at `instant` (ms). */
function offsetMinutes(instant, timeZone) {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' }).formatToParts(new Date(instant));
  const get = (type) => Number(parts.find((part) => part.type === type).value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour') % 24, get('minute'));
  return Math.round((asUtc - Math.floor(instant / 60000) * 60000) / 60000);
}

/** "$1.23" for dollars. */
export function money(dollars) {
  return new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' }).format(Number(dollars || 0));
}

/** "3 min 20 s" for seconds. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  const minutes = Math.floor(seconds / 60);
  const rest = Math.round(seconds % 60);
  return minutes ? `${minutes} min ${rest} s` : `${rest} s`;
}
