// The gateway's public API (/api/v1), as any client would use it.

export const API = "/api/v1";

// Who hears that the gateway answered 401 to a call (signin.js: the sign-in form).
let unauthorized = () => {};

export function onUnauthorized(listener) {
  unauthorized = listener;
}

export class ApiError extends Error {
  constructor(status, type, message) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

async function request(method, path, body) {
  const init = { method, headers: { accept: "application/json" } };
  if (body instanceof FormData) {
    init.body = body; // the browser sets multipart/form-data with its boundary
  } else if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(API + path, init);
  } catch {
    throw new ApiError(0, "network", "Cannot reach the gateway. Is it still running?");
  }
  let data = null;
  if (response.status !== 204) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    // A wrong key on the sign-in form is that form's own error, not a lost session.
    if (response.status === 401 && path !== "/session") unauthorized();
    const error = data && data.error;
    const message = (error && error.message) || `The gateway answered ${response.status}.`;
    throw new ApiError(response.status, (error && error.type) || "http", message);
  }
  return { data, response };
}

export async function api(method, path, body) {
  return (await request(method, path, body)).data;
}

// The page's sign-in: the key goes to the gateway once, which answers with an HttpOnly
// session cookie; the page keeps nothing.
export const getSession = () => api("GET", "/session");
export const signIn = (key) => api("POST", "/session", { key });
export const signOut = () => api("DELETE", "/session");

export const listProviders = () => api("GET", "/providers");

export async function listConversations(limit, offset = 0) {
  const { data, response } = await request(
    "GET",
    `/conversations/?limit=${limit}&offset=${offset}`,
  );
  const total = Number(response.headers.get("x-total-count"));
  return { items: data, total: Number.isFinite(total) ? total : data.length };
}

export const getConversation = (id) => api("GET", `/conversations/${id}`);
export const renameConversation = (id, title) => api("PATCH", `/conversations/${id}`, { title });
export const deleteConversation = (id) => api("DELETE", `/conversations/${id}`);
export const createTurn = (body) => api("POST", "/turns", body);
export const getTurn = (turnId) => api("GET", `/turns/${encodeURIComponent(turnId)}`);
export const eventsUrl = (turnId) => `${API}/turns/${encodeURIComponent(turnId)}/events`;

export function cancelTurn(turnId, providers) {
  return api("POST", `/turns/${encodeURIComponent(turnId)}/cancel`, providers ? { providers } : {});
}

// Retry providers of a turn, or add new ones: 202 {events_url, last_event_id, providers}.
export const retryTurn = (turnId, providers) =>
  api("POST", `/turns/${encodeURIComponent(turnId)}/retry`, { providers });
export const addToTurn = (turnId, providers) =>
  api("POST", `/turns/${encodeURIComponent(turnId)}/add`, { providers });

export async function searchConversations(q, limit = 50) {
  const { data, response } = await request(
    "GET",
    `/conversations/?q=${encodeURIComponent(q)}&limit=${limit}`,
  );
  return { items: data, total: Number(response.headers.get("x-total-count")) || data.length };
}

// An image for a prompt: 201 {id, media_type, bytes, sha256, width, height}.
export function uploadImage(file) {
  const form = new FormData();
  form.append("file", file, file.name || "image");
  return api("POST", "/uploads", form);
}

export const uploadUrl = (id) => `${API}/uploads/${encodeURIComponent(id)}`;

export const exportUrl = (id, format) => `${API}/conversations/${id}/export?format=${format}`;
