// Branches and runs: ‹ 1/2 › on a prompt that was edited (its siblings: the other prompts asked
// in its place) and on an answer that was retried (its runs), and Edit on a past prompt.
// Every choice goes to the gateway (PUT /conversations/{id}/current, PUT
// /turns/{id}/answers/{key}/run), which keeps it: the conversation is then read again, so a
// reload shows the same. An edit is a new turn on a new branch (POST /turns/{id}/edit), shown
// streaming where the edited turn was.
//
// transcript.js gives each stored turn its place on the path (`view.pathEntry`: its parent,
// `branch` {index, count, siblings}) and its answers' runs (`view.runInfo`: key -> {runs,
// shown}); a turn that ends on screen (a retry) asks GET /turns/{id} for its runs.

import { api, getTurn } from "./api.js";
import { h } from "./dom.js";
import { reportError, showNotice } from "./notice.js";
import { choiceChips } from "./picker.js";
import { emit, state } from "./state.js";
import { openConversation } from "./transcript.js";
import { turnExtensions } from "./turn.js";

const turnPath = (turnId) => `/turns/${encodeURIComponent(turnId)}`;

// ‹ n/m ›: group, its name ("Branches of this prompt"); what, one of them ("branch", "run of
// Claude"), for its buttons' names; go(index) switches.
function pager(group, what, index, count, go) {
  const button = (text, label, to) =>
    h(
      "button",
      {
        type: "button",
        class: "pager-step",
        "aria-label": label,
        disabled: to < 0 || to >= count,
        onclick: () => go(to),
      },
      text,
    );
  return h(
    "span",
    { class: "pager", role: "group", "aria-label": group },
    button("‹", `Previous ${what}`, index - 1),
    h("span", { class: "pager-count" }, `${index + 1}/${count}`),
    button("›", `Next ${what}`, index + 1),
  );
}

// Make the change, show the conversation again (with turnId in view), and give the focus back
// to the same pager's button in the new drawing (where: its container's selector in that turn).
async function reopen(turnId, change, where, forward) {
  const id = state.conversationId;
  try {
    await change();
  } catch (error) {
    reportError(error);
    return;
  }
  if (id !== state.conversationId) return;
  await openConversation(id, { show: turnId });
  const turn = document.querySelector(`.turn[data-turn-id="${CSS.escape(turnId)}"]`);
  const steps = turn ? [...turn.querySelectorAll(`${where} .pager-step`)] : [];
  const [before, after] = forward ? steps.reverse() : steps;
  const target = before && !before.disabled ? before : after;
  if (target) target.focus();
}

// -- the prompt: its branches and Edit -------------------------------------------------------

function syncPrompt(view) {
  const bar = view.promptBar;
  if (view.turnId) view.el.dataset.turnId = view.turnId;
  if (!view.branchEls) {
    view.branchEls = {
      pager: h("span", { class: "branch-pager" }),
      edit: h(
        "button",
        {
          type: "button",
          class: "button-small edit-prompt",
          "aria-label": "Edit this prompt",
          hidden: true,
          onclick: () => startEditing(view),
        },
        "Edit",
      ),
    };
    bar.append(view.branchEls.pager, view.branchEls.edit);
  }
  const entry = view.pathEntry;
  const branch = entry && entry.branch;
  const key = branch ? `${branch.index}/${branch.count}/${branch.siblings.join()}` : "";
  if (view.branchEls.pager.dataset.key !== key) {
    view.branchEls.pager.dataset.key = key;
    view.branchEls.pager.replaceChildren(
      ...(branch && branch.count > 1
        ? [
            pager("Branches of this prompt", "branch", branch.index, branch.count, (to) =>
              reopen(
                branch.siblings[to],
                () =>
                  api("PUT", `/conversations/${state.conversationId}/current`, {
                    turn_id: branch.siblings[to],
                  }),
                ".branch-pager",
                to > branch.index,
              ),
            ),
          ]
        : []),
    );
  }
  view.branchEls.edit.hidden = !(view.turnId && view.ended && state.conversationId) || view.editing;
}

// Edit: the prompt in a text box and, under it, which models answer (the composer's chips, as
// a choice of their own: the edited turn's models ticked). A blind turn before its vote is
// asked again of the same models, still blind: ticking them would say who they are.
function startEditing(view) {
  view.editing = true;
  const promptBox = view.promptEl.closest(".prompt");
  const field = h("textarea", {
    class: "edit-field",
    "aria-label": "Edited prompt",
    rows: "3",
  });
  field.value = view.promptEl.textContent;
  const models = view.sealed ? null : choiceChips(modelsOf(view), "Models to answer it");
  const stop = () => {
    view.editing = false;
    form.remove();
    view.promptEl.hidden = false;
    view.changed(); // the buttons beside the prompt come back, every module's
  };
  const form = h(
    "form",
    {
      class: "edit-form",
      onsubmit: (event) => {
        event.preventDefault();
        const prompt = field.value;
        if (!prompt.trim()) return;
        const asked = models ? models.requests() : null;
        if (asked && !asked.length) {
          showNotice("Choose at least one model to ask.");
          return;
        }
        if (form.dataset.sending) return; // one new branch per edit, however often Send is hit
        form.dataset.sending = "true";
        sendEdit(view, prompt, changedModels(view, asked), stop).finally(() => {
          delete form.dataset.sending;
        });
      },
      onkeydown: (event) => {
        if (event.key !== "Escape") return;
        event.preventDefault(); // a Cancel, not a Stop of a turn running meanwhile
        stop();
      },
    },
    field,
    models ? models.el : h("p", { class: "edit-note" }, "The same models answer it, still blind."),
    h(
      "div",
      { class: "edit-actions" },
      h("button", { type: "submit", class: "button-small edit-send" }, "Send"),
      h("button", { type: "button", class: "button-small", onclick: stop }, "Cancel"),
    ),
  );
  view.promptEl.hidden = true;
  promptBox.insertBefore(form, view.promptBar);
  view.changed(); // the form's Send and Cancel stand in for every module's prompt buttons
  field.focus();
}

// The edited turn's providers and their models, {provider: model}: what the edit asks unless
// changed. (A revealed blind turn's columns know theirs too.)
function modelsOf(view) {
  const models = {};
  for (const column of view.columns.values()) {
    if (column.provider) models[column.provider] = column.model || "";
  }
  return models;
}

// The models to send: none (the gateway asks the edited turn's own, with their models) when
// the same providers are ticked and none was added.
function changedModels(view, asked) {
  if (!asked) return null;
  const before = Object.keys(modelsOf(view)).sort().join();
  const after = asked.map((request) => request.split(":")[0]).sort().join();
  return before === after ? null : asked;
}

async function sendEdit(view, prompt, models, stop) {
  const id = state.conversationId;
  let created;
  try {
    created = await api("POST", `${turnPath(view.turnId)}/edit`, models ? { prompt, models } : { prompt });
  } catch (error) {
    reportError(error);
    return;
  }
  stop();
  if (id !== state.conversationId) return;
  // The new turn is the path's leaf now: the conversation shows it, streaming.
  await openConversation(id, { resume: created.turn_id });
  emit("turn-started", { push: false });
}

// -- each answer: its runs -------------------------------------------------------------------

function syncRuns(view) {
  if (view.turnId && view.ended && view.live && view.runsFor !== finishes(view)) {
    loadRuns(view); // a turn that ran here (a retry, perhaps): its runs from the gateway
  }
  for (const column of view.columns.values()) {
    const info = view.runInfo && view.runInfo[column.key];
    if (!column.runPagerEl) {
      column.runPagerEl = h("span", { class: "run-pager" });
      column.el.querySelector(".answer-sub").append(column.runPagerEl);
    }
    const key = info && view.ended ? `${info.shown}/${info.runs.join()}` : "";
    if (column.runPagerEl.dataset.key === key) continue;
    column.runPagerEl.dataset.key = key;
    const at = info ? info.runs.indexOf(info.shown) : -1;
    column.runPagerEl.replaceChildren(
      ...(key && info.runs.length > 1 && at >= 0
        ? [
            pager("Runs of this answer", `run of ${column.displayName}`, at, info.runs.length, (to) =>
              reopen(
                view.turnId,
                () =>
                  api(
                    "PUT",
                    `${turnPath(view.turnId)}/answers/${encodeURIComponent(column.key)}/run`,
                    { run: info.runs[to] },
                  ),
                `.answer[data-key="${CSS.escape(column.key)}"] .run-pager`,
                to > at,
              ),
            ),
          ]
        : []),
    );
  }
}

function finishes(view) {
  return [...view.columns.values()].reduce((sum, column) => sum + column.version, 0);
}

async function loadRuns(view) {
  view.runsFor = finishes(view);
  let turn;
  try {
    turn = await getTurn(view.turnId);
  } catch {
    return; // no runs shown: the answers are still there
  }
  const info = {};
  for (const p of turn.providers) {
    const key = p.provider ?? p.label;
    if (!p.runs || !p.runs.length) continue;
    info[key] = { runs: p.runs.map((r) => r.run), shown: p.runs[p.runs.length - 1].run };
  }
  view.runInfo = info;
  syncRuns(view);
}

turnExtensions.push({
  changed(view) {
    syncPrompt(view);
    syncRuns(view);
  },
  event() {},
});
