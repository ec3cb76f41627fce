// The console's JSON API client. Requests are same-origin fetches with a
// JSON body, which http.CrossOriginProtection on the server accepts and a
// cross-site page cannot forge.

import { t } from './dom.js';

export class APIError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field || '';
  }
}

// signIn sends the browser to the login page and back here afterwards.
export function signIn() {
  const next = location.pathname + location.search;
  location.assign('/login?next=' + encodeURIComponent(next));
}

// api calls the JSON API. A 401 sends the agent to sign in again unless
// opts.keep401 is set; other failures throw an APIError whose message is
// the server's (safe to show).
export async function api(method, path, body, opts = {}) {
  const init = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new APIError(0, 'network', t('err_network'));
  }
  if (res.status === 204) return null;
  let data = null;
  try {
    data = await res.json();
  } catch (e) {
    data = null;
  }
  if (!res.ok) {
    const e = (data && data.error) || {};
    if (res.status === 401 && !opts.keep401) {
      signIn();
    }
    throw new APIError(res.status, e.code || 'http_' + res.status, e.message || res.statusText || t('err_generic'), e.field);
  }
  return data;
}

export const get = (path, opts) => api('GET', path, undefined, opts);
export const post = (path, body, opts) => api('POST', path, body === undefined ? {} : body, opts);
export const patch = (path, body, opts) => api('PATCH', path, body, opts);
export const put = (path, body, opts) => api('PUT', path, body, opts);
export const del = (path, body, opts) => api('DELETE', path, body, opts);

// errorText is what the console shows for a failed request.
export function errorText(err) {
  if (err instanceof APIError) {
    if (err.status === 0) return t('err_network');
    if (err.status >= 500) return t('err_server');
    return err.message;
  }
  return t('err_generic');
}
