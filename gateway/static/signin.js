// Signing in, when the gateway has client keys (README, "Security"). The page asks
// GET /api/v1/session first; with keys on and no session it shows a form instead of the app,
// and sends the key once to POST /api/v1/session, whose answer sets an HttpOnly, SameSite=Strict
// cookie that every later call and EventSource carries. The page itself keeps nothing: the key
// is read from the field, the field is emptied, and the key is gone with the request.
// A call that answers 401 later (the session expired, the key was revoked) brings the form back;
// signing in again reloads the page, so what is on screen comes back from the hash.
// The address the gateway prints at start, /#key=…, signs in the same way: the key is taken
// out of the address bar (and so out of history) before anything else, then posted once. A
// fragment never reaches a server, a proxy's log or a Referer.

import { ApiError, getSession, onUnauthorized, signIn, signOut } from "./api.js";
import { byId, h } from "./dom.js";

const els = { app: byId("app"), foot: byId("sidebar-foot") };
let form = null; // built the first time it is needed

// Resolves with the session once the app may be shown: at once in open mode (or when the
// gateway cannot be asked: the app then says what is wrong), after the form otherwise.
export async function startSession() {
  const given = takeKeyFromAddress();
  let session = null;
  let message = "";
  if (given) {
    try {
      session = await signIn(given);
    } catch (error) {
      message =
        error instanceof ApiError && error.status === 401
          ? "The key in that address is not a live client key."
          : error.message || String(error);
    }
  }
  if (!session) {
    try {
      session = await getSession();
    } catch {
      session = { auth: "unknown", signed_in: true, key_name: null };
    }
  }
  document.documentElement.dataset.auth = session.auth;
  if (session.auth === "keys" && !session.signed_in) {
    session = await askForKey(message);
  }
  showWho(session);
  onUnauthorized(sessionLost);
  return session;
}

// The key of a sign-in address (#key=…, beside the page's own hash parameters), removed from
// the address bar at once; null when there is none.
function takeKeyFromAddress() {
  const parts = location.hash.replace(/^#/, "").split("&");
  const at = parts.findIndex((part) => part.startsWith("key="));
  if (at < 0) return null;
  const [found] = parts.splice(at, 1);
  const rest = parts.filter(Boolean).join("&");
  history.replaceState(null, "", `${location.pathname}${location.search}${rest ? `#${rest}` : ""}`);
  try {
    return decodeURIComponent(found.slice(4)).trim() || null;
  } catch {
    return null;
  }
}

// The form, until a key is taken: resolves with the new session.
function askForKey(message) {
  return new Promise((resolve) => {
    showForm(message, resolve);
  });
}

function sessionLost() {
  if (form && !form.el.hidden) return;
  askForKey("Your session has ended. Sign in again.").then(() => location.reload());
}

function showForm(message, done) {
  if (!form) form = buildForm();
  form.done = done;
  form.error.textContent = message;
  form.error.hidden = !message;
  form.button.disabled = false;
  form.el.hidden = false;
  els.app.hidden = true;
  form.input.focus();
}

function buildForm() {
  const input = h("input", {
    id: "signin-key",
    name: "key",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    placeholder: "mck_…",
    "aria-describedby": "signin-error",
  });
  const error = h("p", { id: "signin-error", class: "signin-error", role: "alert", hidden: true });
  const button = h("button", { id: "signin-button", class: "send", type: "submit" }, "Sign in");
  const el = h(
    "form",
    { id: "signin", class: "signin", autocomplete: "off", hidden: true },
    h(
      "div",
      { class: "brand" },
      h("img", { src: "/static/favicon.svg", alt: "", width: 28, height: 28 }),
      h("div", {}, h("strong", {}, "Multichat"), h("span", {}, "compare AI models")),
    ),
    h("h1", {}, "Sign in"),
    h("label", { for: "signin-key" }, "Client key"),
    input,
    error,
    button,
    h(
      "p",
      { class: "help" },
      "This gateway asks for a client key. Its operator makes one with ",
      h("code", {}, "multichat keys create --name you"),
      ".",
    ),
  );
  const built = { el, input, error, button, done: null };
  el.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(built);
  });
  document.body.append(el);
  return built;
}

async function submit(built) {
  const key = built.input.value.trim();
  built.input.value = "";
  if (!key) return;
  built.button.disabled = true;
  built.error.hidden = true;
  let session;
  try {
    session = await signIn(key);
  } catch (error) {
    built.error.textContent =
      error instanceof ApiError && error.status === 401
        ? "That is not a live client key."
        : error.message || String(error);
    built.error.hidden = false;
    built.button.disabled = false;
    built.input.focus();
    return;
  }
  built.el.hidden = true;
  els.app.hidden = false;
  const done = built.done;
  built.done = null;
  if (done) done(session);
}

// "Signed in as NAME" and Sign out, in the sidebar's foot; nothing in open mode.
function showWho(session) {
  if (session.auth !== "keys" || !session.key_name) return;
  const out = h(
    "button",
    { id: "sign-out", class: "button-small", type: "button", onclick: leave },
    "Sign out",
  );
  els.foot.prepend(
    h(
      "div",
      { id: "who", class: "who" },
      h("span", {}, "Signed in as ", h("strong", { class: "who-name" }, session.key_name)),
      out,
    ),
  );
}

// Sign out, then load the page again without the hash: nothing of this key stays on screen.
async function leave(event) {
  event.currentTarget.disabled = true;
  try {
    await signOut();
  } catch {
    // The cookie may stay if the gateway cannot be reached; the reload shows which.
  }
  location.replace(`${location.pathname}${location.search}`);
}
