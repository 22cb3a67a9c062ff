// The comparison page: providers, the composer, the conversation sidebar and the transcript.
//
// URL state: #conversation=<id>&turn=<turn id> (the turn only while it runs, so a reloaded
// page picks it up again from ?last_event_id=0). ?models=claude:x+tokens=5,chatgpt in the
// query string chooses the providers and pins their models (simulator knobs ride on the model
// name); a comma followed by something that is not a provider name belongs to the model.

import {
  ApiError,
  createTurn,
  deleteConversation,
  eventsUrl,
  getConversation,
  listConversations,
  listProviders,
  renameConversation,
} from "./api.js";
import { h, icon } from "./dom.js";
import { TurnView, displayName } from "./turn.js";

const STORAGE_KEY = "multichat.providers";
const PAGE_SIZE = 50;

const $ = (id) => document.getElementById(id);
const els = {
  app: $("app"),
  sidebar: $("sidebar"),
  backdrop: $("backdrop"),
  menu: $("menu-toggle"),
  newChat: $("new-chat"),
  list: $("conversation-list"),
  listEmpty: $("conversation-empty"),
  more: $("more-conversations"),
  title: $("title"),
  simNote: $("sim-note"),
  transcript: $("transcript"),
  welcome: $("welcome"),
  welcomeSim: $("welcome-sim"),
  examples: $("examples"),
  turns: $("turns"),
  form: $("composer"),
  notice: $("notice"),
  noticeText: $("notice-text"),
  noticeClose: $("notice-close"),
  providers: $("providers"),
  prompt: $("prompt"),
  send: $("send"),
  stopAll: $("stop-all"),
  overrides: $("model-overrides"),
  advanced: $("advanced"),
};

const state = {
  providers: [], // from GET /providers
  selected: new Set(),
  overrides: new Map(), // provider -> pinned model (may carry simulator knobs)
  conversationId: null,
  conversations: [],
  listLimit: PAGE_SIZE,
  live: new Map(), // turn id -> TurnView, for every turn still streaming
  sending: false,
  openSeq: 0,
  stickToBottom: true,
};

// -- small helpers -------------------------------------------------------------------------

function showNotice(message) {
  els.noticeText.textContent = message;
  els.notice.hidden = false;
}

function hideNotice() {
  els.notice.hidden = true;
}

function reportError(error) {
  showNotice(error instanceof ApiError ? error.message : String(error));
}

function relativeTime(iso) {
  const then = Date.parse(iso);
  if (!Number.isFinite(then)) return "";
  const seconds = Math.max(0, (Date.now() - then) / 1000);
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return new Date(then).toLocaleDateString();
}

function decode(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

// Query and hash parameters, without turning "+" into a space (model knobs use "+").
function rawParams(text) {
  const params = new Map();
  for (const part of text.replace(/^[?#]/, "").split("&")) {
    if (!part) continue;
    const at = part.indexOf("=");
    const key = decode(at < 0 ? part : part.slice(0, at));
    const value = decode(at < 0 ? "" : part.slice(at + 1));
    params.set(key, params.has(key) ? `${params.get(key)},${value}` : value);
  }
  return params;
}

function parseModels(text, known) {
  const entries = [];
  for (const piece of text.split(",")) {
    const name = piece.split(":")[0].trim();
    if (known.has(name)) {
      const model = piece.includes(":") ? piece.slice(piece.indexOf(":") + 1).trim() : "";
      entries.push({ name, model });
    } else if (entries.length && entries[entries.length - 1].model) {
      entries[entries.length - 1].model += `,${piece}`;
    } else if (piece.trim()) {
      showNotice(`Unknown provider in ?models=: ${piece.trim()}`);
    }
  }
  return entries;
}

function readHash() {
  const params = rawParams(location.hash);
  const conversation = Number(params.get("conversation"));
  return {
    conversation: Number.isInteger(conversation) && conversation > 0 ? conversation : null,
    turn: params.get("turn") || null,
  };
}

function writeHash(push = false) {
  const parts = [];
  if (state.conversationId) parts.push(`conversation=${state.conversationId}`);
  const running = currentLiveTurn();
  if (running) parts.push(`turn=${encodeURIComponent(running.turnId)}`);
  const hash = parts.length ? `#${parts.join("&")}` : "";
  const url = `${location.pathname}${location.search}${hash}`;
  if (url === `${location.pathname}${location.search}${location.hash}`) return;
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
}

function currentLiveTurn() {
  for (const view of state.live.values()) {
    if (view.conversationId === state.conversationId && view.running) return view;
  }
  return null;
}

// -- providers and the composer ------------------------------------------------------------

async function loadProviders() {
  try {
    state.providers = await listProviders();
  } catch (error) {
    reportError(error);
    state.providers = [];
  }
  const known = new Set(state.providers.map((p) => p.name));
  const fromUrl = parseModels(rawParams(location.search).get("models") || "", known);
  if (fromUrl.length) {
    state.selected = new Set(fromUrl.map((e) => e.name));
    for (const entry of fromUrl) if (entry.model) state.overrides.set(entry.name, entry.model);
    if (state.overrides.size) els.advanced.open = true;
  } else {
    let saved = null;
    try {
      saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
    } catch {
      saved = null;
    }
    const chosen = Array.isArray(saved) ? saved.filter((name) => known.has(name)) : [];
    state.selected = new Set(chosen.length ? chosen : known);
  }
  renderProviders();
}

function renderProviders() {
  const chips = state.providers.map((p) => {
    const box = h("input", {
      type: "checkbox",
      name: "provider",
      value: p.name,
      checked: state.selected.has(p.name),
      onchange: (event) => {
        if (event.target.checked) state.selected.add(p.name);
        else state.selected.delete(p.name);
        try {
          localStorage.setItem(STORAGE_KEY, JSON.stringify([...state.selected]));
        } catch {
          // Private mode: the choice just is not remembered.
        }
      },
    });
    return h(
      "label",
      { class: "chip", dataset: { provider: p.name }, title: `${p.model} · health: ${p.health}` },
      box,
      p.health === "unknown"
        ? null
        : h("span", { class: `health health-${p.health}`, title: `health: ${p.health}` }),
      h("span", { class: "chip-name" }, displayName(p.name)),
      p.simulated ? h("span", { class: "tag tag-sim" }, "simulated") : null,
    );
  });
  els.providers.replaceChildren(...chips);

  const fields = state.providers.map((p) =>
    h(
      "label",
      { class: "override", dataset: { provider: p.name } },
      h("span", {}, displayName(p.name)),
      h("input", {
        type: "text",
        name: `model-${p.name}`,
        placeholder: p.model,
        value: state.overrides.get(p.name) || "",
        spellcheck: "false",
        autocomplete: "off",
        oninput: (event) => state.overrides.set(p.name, event.target.value),
      }),
    ),
  );
  els.overrides.replaceChildren(...fields);

  const simulated = state.providers.filter((p) => p.simulated).length;
  let note = "";
  if (simulated && simulated === state.providers.length) {
    note = "Demo mode: every model is simulated (no API keys set)";
  } else if (simulated) {
    note = `${simulated} of ${state.providers.length} models simulated (no API key)`;
  }
  els.simNote.textContent = note;
  els.simNote.hidden = !note;
  els.welcomeSim.hidden = !simulated;
}

function updateComposer() {
  const running = currentLiveTurn();
  if (!running && els.noticeText.textContent.startsWith("The models are still")) hideNotice();
  els.send.hidden = Boolean(running);
  els.stopAll.hidden = !running;
  els.send.disabled = state.sending;
}

function autoGrow() {
  els.prompt.style.height = "auto";
  els.prompt.style.height = `${Math.min(els.prompt.scrollHeight, 220)}px`;
}

async function send(text) {
  const prompt = text ?? els.prompt.value;
  if (state.sending) return;
  if (currentLiveTurn()) {
    showNotice("The models are still answering: wait for them, or press Stop all.");
    return;
  }
  if (!prompt.trim()) {
    els.prompt.focus();
    return;
  }
  const chosen = state.providers.filter((p) => state.selected.has(p.name));
  if (!chosen.length) {
    showNotice("Choose at least one model to ask.");
    return;
  }
  hideNotice();
  const models = chosen.map((p) => {
    const pinned = (state.overrides.get(p.name) || "").trim();
    return pinned ? `${p.name}:${pinned}` : p.name;
  });
  const view = newTurnView(prompt);
  for (const p of chosen) {
    view.column(p.name, (state.overrides.get(p.name) || "").trim() || p.model, p.simulated);
  }
  els.welcome.hidden = true;
  els.turns.append(view.el);
  els.prompt.value = "";
  autoGrow();
  state.sending = true;
  updateComposer();
  scrollToBottom(true);
  const conversationAtSend = state.conversationId;
  const seq = state.openSeq;
  let created;
  try {
    created = await createTurn({ prompt, conversation_id: conversationAtSend, models });
  } catch (error) {
    view.el.remove();
    if (!els.prompt.value) els.prompt.value = prompt;
    autoGrow();
    els.welcome.hidden = els.turns.childElementCount > 0;
    reportError(error);
    return;
  } finally {
    state.sending = false;
    updateComposer();
  }
  view.conversationId = created.conversation_id;
  view.attach(created.turn_id, created.events_url);
  state.live.set(created.turn_id, view);
  if (seq === state.openSeq) state.conversationId = created.conversation_id;
  view.connect();
  writeHash(conversationAtSend == null);
  updateComposer();
  refreshConversations();
}

function newTurnView(prompt) {
  return new TurnView(prompt, {
    onChange: () => scrollToBottom(false),
    onEnd: (view) => {
      state.live.delete(view.turnId);
      writeHash();
      updateComposer();
      refreshConversations();
      refreshHealth();
    },
    onConversation: (view, conversationId) => {
      view.conversationId = conversationId;
      // A turn resumed from the URL alone: show the conversation it belongs to around it.
      if (state.conversationId == null) openConversation(conversationId);
    },
    onError: reportError,
  });
}

// -- the transcript ------------------------------------------------------------------------

function scrollToBottom(force) {
  if (!force && !state.stickToBottom) return;
  els.transcript.scrollTop = els.transcript.scrollHeight;
}

function showEmpty() {
  els.turns.replaceChildren();
  els.welcome.hidden = false;
}

function groupMessages(messages) {
  const groups = [];
  const byTurn = new Map();
  let last = null;
  for (const message of messages) {
    if (message.role === "user") {
      last = { turnId: message.turn_id, user: message, answers: [] };
      groups.push(last);
      if (message.turn_id) byTurn.set(message.turn_id, last);
      continue;
    }
    const group = (message.turn_id && byTurn.get(message.turn_id)) || last;
    if (group) group.answers.push(message);
    else groups.push((last = { turnId: message.turn_id, user: null, answers: [message] }));
  }
  return groups;
}

function resumeTurn(turnId, prompt) {
  let view = state.live.get(turnId);
  if (!view) {
    view = newTurnView(prompt);
    view.attach(turnId, eventsUrl(turnId));
    state.live.set(turnId, view);
    view.connect(0); // the whole turn again, from memory or from the database
  }
  return view;
}

async function openConversation(id, { resume = null, push = false } = {}) {
  const seq = ++state.openSeq;
  let conversation;
  try {
    conversation = await getConversation(id);
  } catch (error) {
    if (seq !== state.openSeq) return;
    if (error.status === 404) {
      showNotice("That conversation no longer exists.");
      newConversation();
    } else {
      reportError(error);
    }
    return;
  }
  if (seq !== state.openSeq) return;
  hideNotice();
  state.conversationId = id;
  els.title.textContent = conversation.title;
  document.title = `${conversation.title} · Multichat`;
  els.welcome.hidden = true;
  const views = [];
  let resumed = false;
  for (const group of groupMessages(conversation.messages)) {
    const live = group.turnId && state.live.get(group.turnId);
    if (live) {
      views.push(live.el);
    } else if (resume && group.turnId === resume) {
      views.push(resumeTurn(resume, group.user ? group.user.content : "").el);
      resumed = true;
    } else {
      views.push(TurnView.stored(group, state.providers.map((p) => p.name)).el);
    }
  }
  if (resume && !resumed && !state.live.has(resume)) views.push(resumeTurn(resume, "").el);
  els.turns.replaceChildren(...views);
  writeHash(push);
  updateComposer();
  markActive();
  closeSidebarOnPhone();
  state.stickToBottom = true;
  scrollToBottom(true);
}

function newConversation(push = false) {
  state.openSeq += 1;
  state.conversationId = null;
  els.title.textContent = "New comparison";
  document.title = "Multichat · compare AI models side by side";
  showEmpty();
  writeHash(push);
  updateComposer();
  markActive();
  closeSidebarOnPhone();
  els.prompt.focus();
}

// -- the sidebar ---------------------------------------------------------------------------

async function refreshConversations() {
  // The API pages by at most 100; "Show more" may ask for more than that.
  const items = [];
  let total = 0;
  try {
    while (items.length < state.listLimit) {
      const want = Math.min(100, state.listLimit - items.length);
      const page = await listConversations(want, items.length);
      items.push(...page.items);
      total = page.total;
      if (page.items.length < want || items.length >= total) break;
    }
  } catch (error) {
    reportError(error);
    return;
  }
  state.conversations = items;
  renderConversations(total);
}

// Health changes as answers succeed or fail: update the dots, nothing else (a re-render
// would take the focus from a field being typed in).
async function refreshHealth() {
  let providers;
  try {
    providers = await listProviders();
  } catch {
    return;
  }
  for (const p of providers) {
    const chip = els.providers.querySelector(`.chip[data-provider="${CSS.escape(p.name)}"]`);
    if (!chip) continue;
    const dot = chip.querySelector(".health");
    const fresh =
      p.health === "unknown"
        ? null
        : h("span", { class: `health health-${p.health}`, title: `health: ${p.health}` });
    if (dot && fresh) dot.replaceWith(fresh);
    else if (dot) dot.remove();
    else if (fresh) chip.querySelector(".chip-name").before(fresh);
    chip.title = `${p.model} · health: ${p.health}`;
  }
}

function renderConversations(total) {
  const items = state.conversations.map((c) => conversationItem(c));
  els.list.replaceChildren(...items);
  els.listEmpty.hidden = items.length > 0;
  els.more.hidden = total <= state.conversations.length;
  const current = state.conversations.find((c) => c.id === state.conversationId);
  if (current) {
    els.title.textContent = current.title;
    document.title = `${current.title} · Multichat`;
  }
  markActive();
}

function markActive() {
  for (const item of els.list.children) {
    const active = Number(item.dataset.id) === state.conversationId;
    item.classList.toggle("active", active);
    const open = item.querySelector(".conv-open");
    if (open) {
      if (active) open.setAttribute("aria-current", "page");
      else open.removeAttribute("aria-current");
    }
  }
}

function conversationItem(conversation) {
  const live = [...state.live.values()].some(
    (v) => v.conversationId === conversation.id && v.running,
  );
  const item = h("li", { class: "conversation", dataset: { id: String(conversation.id) } });
  const open = h(
    "button",
    {
      type: "button",
      class: "conv-open",
      title: conversation.title,
      onclick: () => openConversation(conversation.id, { push: true }),
    },
    h("span", { class: "conv-title" }, conversation.title),
    h(
      "span",
      { class: "conv-meta" },
      live ? h("span", { class: "live-dot", title: "answering now" }) : null,
      relativeTime(conversation.updated_at),
    ),
  );
  const actions = h(
    "div",
    { class: "conv-actions" },
    h(
      "button",
      {
        type: "button",
        class: "button-icon conv-rename",
        title: "Rename",
        "aria-label": `Rename “${conversation.title}”`,
        onclick: () => startRename(item, conversation),
      },
      icon("pencil"),
    ),
    h(
      "button",
      {
        type: "button",
        class: "button-icon conv-delete",
        title: "Delete",
        "aria-label": `Delete “${conversation.title}”`,
        onclick: () => confirmDelete(item, conversation),
      },
      icon("trash"),
    ),
  );
  item.append(open, actions);
  return item;
}

function startRename(item, conversation) {
  const input = h("input", {
    type: "text",
    class: "conv-title-input",
    value: conversation.title,
    maxlength: "200",
    "aria-label": "Conversation title",
  });
  let done = false;
  const finish = async (save) => {
    if (done) return;
    done = true;
    const title = input.value.trim();
    if (save && title && title !== conversation.title) {
      try {
        await renameConversation(conversation.id, title);
      } catch (error) {
        reportError(error);
      }
    }
    refreshConversations();
  };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      finish(true);
    } else if (event.key === "Escape") {
      event.preventDefault();
      finish(false);
    }
  });
  input.addEventListener("blur", () => finish(true));
  item.classList.add("editing");
  item.replaceChildren(input);
  input.focus();
  input.select();
}

function confirmDelete(item, conversation) {
  item.classList.add("confirming");
  item.replaceChildren(
    h("span", { class: "confirm-text" }, "Delete this conversation?"),
    h(
      "div",
      { class: "confirm-actions" },
      h(
        "button",
        {
          type: "button",
          class: "button-small danger confirm-delete",
          onclick: async () => {
            try {
              await deleteConversation(conversation.id);
            } catch (error) {
              if (error.status !== 404) reportError(error);
            }
            if (state.conversationId === conversation.id) newConversation();
            refreshConversations();
          },
        },
        "Delete",
      ),
      h(
        "button",
        { type: "button", class: "button-small", onclick: () => refreshConversations() },
        "Cancel",
      ),
    ),
  );
  item.querySelector(".confirm-delete").focus();
}

function toggleSidebar(open) {
  // Phones: the sidebar is a drawer over the page. Wider screens: it can be folded away.
  if (matchMedia("(max-width: 900px)").matches) {
    const value = open ?? !els.app.classList.contains("sidebar-open");
    els.app.classList.toggle("sidebar-open", value);
    els.backdrop.hidden = !value;
    els.menu.setAttribute("aria-expanded", String(value));
  } else {
    const collapsed = open == null ? !els.app.classList.contains("sidebar-collapsed") : !open;
    els.app.classList.toggle("sidebar-collapsed", collapsed);
    els.menu.setAttribute("aria-expanded", String(!collapsed));
  }
}

function closeSidebarOnPhone() {
  if (els.app.classList.contains("sidebar-open")) toggleSidebar(false);
}

// -- wiring --------------------------------------------------------------------------------

function route() {
  const { conversation, turn } = readHash();
  if (conversation) openConversation(conversation, { resume: turn });
  else if (turn) {
    state.conversationId = null;
    els.welcome.hidden = true;
    els.turns.replaceChildren(resumeTurn(turn, "").el);
    updateComposer();
  } else newConversation();
}

function bind() {
  els.form.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  els.prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
  els.prompt.addEventListener("input", autoGrow);
  els.stopAll.addEventListener("click", () => {
    const view = currentLiveTurn();
    if (view) view.stop(null);
  });
  els.newChat.addEventListener("click", () => newConversation(true));
  els.more.addEventListener("click", () => {
    state.listLimit += PAGE_SIZE;
    refreshConversations();
  });
  els.menu.addEventListener("click", () => toggleSidebar());
  els.backdrop.addEventListener("click", () => toggleSidebar(false));
  els.noticeClose.addEventListener("click", hideNotice);
  els.transcript.addEventListener("scroll", () => {
    const gap = els.transcript.scrollHeight - els.transcript.scrollTop - els.transcript.clientHeight;
    state.stickToBottom = gap < 80;
  });
  for (const button of els.examples.querySelectorAll("button")) {
    button.addEventListener("click", () => send(button.textContent));
  }
  window.addEventListener("popstate", route);
}

async function main() {
  bind();
  els.menu.setAttribute("aria-expanded", String(!matchMedia("(max-width: 900px)").matches));
  await loadProviders();
  route();
  refreshConversations();
  // For tests and debugging: the live turns and a way to re-read every stream from the start.
  window.multichat = {
    state,
    replayFromStart: () => {
      for (const view of state.live.values()) view.connect(0);
    },
  };
  document.documentElement.dataset.ready = "true";
}

main();
