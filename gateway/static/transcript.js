// The conversation on screen: its title, its turns (stored ones as they were saved, live ones
// as they stream), the welcome for a new conversation, and where it is scrolled to. The page
// never scrolls by itself while answers stream: a turn just asked, or a conversation just
// opened, is brought to the top of the view once (a search's match, if one opened it).

import { api, eventsUrl, getConversation } from "./api.js";
import { byId } from "./dom.js";
import { clearHighlight, highlightMatches } from "./highlight.js";
import { plainText } from "./markdown-inline.js";
import { hideNotice, reportError, showNotice } from "./notice.js";
import { providerNames } from "./providers.js";
import { emit, state } from "./state.js";
import { TurnView } from "./turn.js";
import { forgetLayouts } from "./turn-layout.js";

const PAGE_TITLE = "Multichat · compare AI models side by side";

const els = {
  title: byId("title"),
  transcript: byId("transcript"),
  welcome: byId("welcome"),
  turns: byId("turns"),
};

// -- what is on screen ---------------------------------------------------------------------

// resume: the id of a turn still running (named in the URL) to stream again from its start;
// find: the search that opened it (its first match is shown, every match highlighted);
// show: a turn to bring into view instead of the last (one whose branch or run was switched);
// branch: a turn to show the branch of (a search's match), switched to if it is not on screen.
export function openConversation(id, options = {}) {
  const opened = showConversation(id, options);
  state.opening = opened;
  opened.finally(() => {
    if (state.opening === opened) state.opening = null;
  });
  return opened;
}

async function showConversation(
  id,
  { resume = null, push = false, find = null, show = null, branch = null } = {},
) {
  const seq = ++state.openSeq;
  let conversation;
  try {
    conversation = await getConversation(id);
    if (branch && !(conversation.path || []).some((entry) => entry.turn_id === branch)) {
      conversation = await api("PUT", `/conversations/${id}/current`, { turn_id: branch });
    }
  } catch (error) {
    if (seq === state.openSeq) couldNotOpen(error);
    return;
  }
  if (seq !== state.openSeq) return;
  hideNotice();
  state.conversationId = id;
  showTitle(conversation.title);
  els.welcome.hidden = true;
  const views = turnViews(conversation, resume);
  showTurns(views.map((view) => view.el));
  emit("shown", { push });
  const match = find ? highlightMatches(els.turns, find) : null;
  const shown = show && views.find((view) => view.turnId === show);
  if (match) showMatch(match);
  else if (shown) showTurn(shown);
  else if (views.length) showTurn(views[views.length - 1]);
}

function showTurns(elements) {
  clearHighlight();
  els.turns.replaceChildren(...elements);
  forgetLayouts(new Set(elements));
}

// Bring a turn's top (its prompt, then its columns' headers) to the top of the view.
export function showTurn(view) {
  const top = view.el.getBoundingClientRect().top - els.transcript.getBoundingClientRect().top;
  els.transcript.scrollTop += top - 8;
}

// A search's first match: its turn at the top, its column shown and scrolled to it.
function showMatch(range) {
  const at = range.startContainer.parentElement;
  const turnEl = at.closest(".turn");
  const body = at.closest(".answer-body");
  const view = [...els.turns.children].includes(turnEl) ? turnEl.layout?.view : null;
  const column = body && view ? [...view.columns.values()].find((c) => c.bodyEl === body) : null;
  if (column && column.el.hidden) view.layout.show(column.key);
  if (view) showTurn(view);
  if (column) {
    const offset = range.getBoundingClientRect().top - body.getBoundingClientRect().top;
    column.scrollTo(body.scrollTop + offset - 24);
  }
  turnEl.dataset.found = "true";
}

export function newConversation(push = false) {
  state.openSeq += 1;
  state.conversationId = null;
  showTitle(null);
  showTurns([]);
  els.welcome.hidden = false;
  emit("shown", { push, blank: true });
}

// A running turn named in the URL without its conversation: shown alone until its first
// event says which conversation it belongs to (then that conversation opens around it).
export function showLoneTurn(turnId) {
  state.conversationId = null;
  els.welcome.hidden = true;
  showTurns([resumeTurn(turnId, "").el]);
  emit("lone-turn");
}

// title null: a new conversation.
export function showTitle(title) {
  const plain = title == null ? null : plainText(title);
  els.title.textContent = plain ?? "New comparison";
  document.title = plain == null ? PAGE_TITLE : `${plain} · Multichat`;
}

function couldNotOpen(error) {
  if (error.status === 404) {
    showNotice("That conversation no longer exists.");
    newConversation();
  } else {
    reportError(error);
  }
}

// One view per turn: a live one as it is, the one to resume streaming again, the rest stored.
// Each knows its place on the path (branches.js: the ‹ 1/2 › of an edited prompt and of a
// retried answer); a stored one shows each answer's chosen run.
function turnViews(conversation, resume) {
  const views = [];
  let resumed = false;
  const path = new Map((conversation.path || []).map((entry) => [entry.turn_id, entry]));
  for (const group of groupMessages(conversation.messages)) {
    const live = group.turnId && state.live.get(group.turnId);
    const entry = path.get(group.turnId);
    let view;
    if (live) {
      view = live;
    } else if (resume && group.turnId === resume) {
      view = resumeTurn(resume, group.user ? group.user.content : "");
      resumed = true;
    } else {
      const runInfo = runsOf(group, entry);
      view = TurnView.stored(shownLast(group, runInfo), providerNames());
      view.runInfo = runInfo;
    }
    view.pathEntry = entry || null;
    view.changed();
    views.push(view);
  }
  // The turn to resume is not among the stored messages: it streams after them, promptless.
  if (resume && !resumed && !state.live.has(resume)) views.push(resumeTurn(resume, ""));
  return views;
}

// Each answer's runs (a retry stores a new one) and the one to show, by column key.
function runsOf(group, entry) {
  const info = {};
  for (const message of group.answers) {
    const key = message.provider ?? message.label;
    (info[key] ||= { runs: [], shown: message.run }).runs.push(message.run);
    info[key].shown = message.run; // the latest, unless the path names another
  }
  for (const [key, run] of Object.entries((entry && entry.runs) || {})) {
    if (info[key] && info[key].runs.includes(run)) info[key].shown = run;
  }
  return info;
}

// The group with each answer's shown run last: a column shows what it finished with.
function shownLast(group, info) {
  const shown = (m) => info[m.provider ?? m.label].shown === m.run;
  return { ...group, answers: [...group.answers.filter((m) => !shown(m)), ...group.answers.filter(shown)] };
}

// The stored messages in turns: a user message and the answers that share its turn id.
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

// -- live turns ----------------------------------------------------------------------------

export function newTurnView(prompt) {
  return new TurnView(prompt, {
    onEnd: (view) => {
      state.live.delete(view.turnId);
      emit("turn-ended");
    },
    onConversation: (view, conversationId) => {
      view.conversationId = conversationId;
      // A turn resumed from the URL alone: show the conversation it belongs to around it.
      if (state.conversationId == null) openConversation(conversationId);
    },
    onError: reportError,
  });
}

// A turn the composer just created. seq: state.openSeq when it was sent; if nothing else was
// put on screen since, its conversation (perhaps a new one) is now the one shown.
export function streamNewTurn(view, created, seq) {
  view.conversationId = created.conversation_id;
  view.attach(created.turn_id, created.events_url);
  state.live.set(created.turn_id, view);
  if (seq === state.openSeq) state.conversationId = created.conversation_id;
  view.connect();
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

// A turn waiting for the gateway to accept it: shown at once at the top of the view, taken
// away if it was refused.
export function addTurn(view) {
  els.welcome.hidden = true;
  els.turns.append(view.el);
  showTurn(view);
}

export function removeTurn(view) {
  view.el.remove();
  els.welcome.hidden = els.turns.childElementCount > 0;
}
