// The JSON API of the same origin, with the signed-in person's token.
// A 401 means only "your token is missing, invalid or expired" (API.md): the session ends
// and the app returns to sign-in. Every other error keeps the API's own words and `details`.

const SESSION_KEY = 'deskringer.session';

/** The signed-in session `{token, role: "customer"|"admin", name}`, or null. */
export function session() {
  try {
    const value = JSON.parse(localStorage.getItem(SESSION_KEY));
    return value && typeof value.token === 'string' ? value : null;
  } catch {
    return null;
  }
}

/** Remembers a session (after sign-in, or a fresh token after a password change). */
export function saveSession(value) {
  localStorage.setItem(SESSION_KEY, JSON.stringify(value));
}

/** Forgets the session. */
export function clearSession() {
  localStorage.removeItem(SESSION_KEY);
}

/** An error answer: `message` is the API's `error`, `details` maps field paths to reasons. */
export class ApiError extends Error {
  constructor(status, message, details = null, body = null) {
    super(message);
    this.status = status;
    this.details = details && typeof details === 'object' ? details : null;
    this.body = body;
  }
}

/**
 * Calls the API. `body` (if given) is sent as JSON. Answers the parsed JSON body, or the
 * Response itself with `{raw: true}` (for downloads). `{auth: false}` sends no token and
 * never ends the session (sign-in forms).
 */
export async function api(method, path, body, { raw = false, auth = true } = {}) {
  const headers = { Accept: 'application/json' };
  const current = auth ? session() : null;
  if (current) headers.Authorization = `Bearer ${current.token}`;
  const init = { method, headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'DeskRinger could not be reached. Check your connection and try again.');
  }
  if (response.status === 401 && auth) {
    clearSession();
    sessionStorage.setItem('deskringer.signin-reason', 'Your session has ended. Please sign in again.');
    location.hash = '#/signin';
    const ended = new ApiError(401, 'Your session has ended. Please sign in again.');
    // The app is already on its way to sign-in, which says so: forms show nothing more.
    ended.sessionEnded = true;
    throw ended;
  }
  if (raw && response.ok) return response;
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = data && typeof data.error === 'string' ? data.error : `The server answered ${response.status}.`;
    throw new ApiError(response.status, message, data ? data.details : null, data);
  }
  return data;
}

export const get = (path, options) => api('GET', path, undefined, options);
export const post = (path, body, options) => api('POST', path, body, options);
export const put = (path, body, options) => api('PUT', path, body, options);
export const patch = (path, body, options) => api('PATCH', path, body, options);
export const del = (path, options) => api('DELETE', path, undefined, options);

/** `path?query` from an object, leaving out empty values. */
export function withQuery(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') query.set(key, String(value));
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}
