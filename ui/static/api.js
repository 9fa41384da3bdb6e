// The admin API client. Every call carries the admin key; a 401 ends the
// session through onUnauthorized.

export class ApiError extends Error {
  constructor(status, body, fallback) {
    const e = body && typeof body === 'object' && body.error ? body.error : null;
    super((e && e.message) || fallback || `HTTP ${status}`);
    this.status = status;
    this.param = (e && e.param) || '';
    this.code = (e && e.code) || '';
  }
}

export function createApi(getKey, onUnauthorized) {
  return async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${getKey()}` };
    const init = { method, headers, cache: 'no-store', credentials: 'omit' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (err) {
      const e = new ApiError(0, null, err && err.message ? err.message : 'network error');
      e.network = true;
      throw e;
    }
    if (res.status === 204) return null;
    let data = null;
    const text = await res.text();
    if (text) {
      try { data = JSON.parse(text); } catch { data = null; }
    }
    if (res.status === 401) {
      onUnauthorized();
      throw new ApiError(401, data);
    }
    if (!res.ok) throw new ApiError(res.status, data, text.slice(0, 200));
    return data;
  };
}
