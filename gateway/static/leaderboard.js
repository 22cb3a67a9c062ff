// The leaderboard view (#leaderboard): GET /api/v1/leaderboard as a table, ranks shared by
// ties, each rating's 95 % interval drawn as an error bar on one scale with its axis, and a
// time window to choose. A view of its own: a link in the sidebar, Back returns.

import { api } from "./api.js";
import { byId, h } from "./dom.js";
import { reportError } from "./notice.js";
import { displayName } from "./providers.js";
import { emit, on, state } from "./state.js";

const els = {
  link: byId("show-leaderboard"),
  panel: byId("leaderboard"),
  close: byId("leaderboard-close"),
  window: byId("leaderboard-window"),
  body: byId("leaderboard-body"),
  transcript: byId("transcript"),
  composer: byId("composer"),
};

const STEPS = [5, 10, 20, 25, 50, 100, 200, 250, 500];
let pushed = false; // the leaderboard's history entry is ours: Back to the conversation is Back

const getLeaderboard = (days) => api("GET", days ? `/leaderboard?days=${days}` : "/leaderboard");

export async function showLeaderboard() {
  state.view = "leaderboard";
  if (location.hash !== "#leaderboard") history.replaceState(null, "", "#leaderboard");
  els.panel.hidden = false;
  els.transcript.hidden = true;
  els.composer.hidden = true;
  els.link.setAttribute("aria-current", "page");
  emit("view", { name: "leaderboard" });
  els.panel.querySelector("h2").focus();
  els.body.replaceChildren(h("p", { class: "leaderboard-empty" }, "Loading…"));
  try {
    render(await getLeaderboard(els.window.value));
  } catch (error) {
    els.body.replaceChildren();
    reportError(error);
  }
}

export function hideLeaderboard() {
  if (state.view !== "leaderboard") return;
  state.view = null;
  pushed = false;
  els.panel.hidden = true;
  els.transcript.hidden = false;
  els.composer.hidden = false;
  els.link.removeAttribute("aria-current");
  emit("view", { name: null });
}

function backToConversation() {
  if (pushed) {
    history.back(); // the router shows the conversation again
    return;
  }
  hideLeaderboard();
  const hash = state.conversationId ? `#conversation=${state.conversationId}` : "";
  history.replaceState(null, "", `${location.pathname}${location.search}${hash}`);
}

function render(board) {
  if (!board.standings.length) {
    els.body.replaceChildren(
      h("p", { class: "leaderboard-empty" }, "No votes yet. Choose Blind or Battle, ask a question, and vote for the best answer."),
    );
    return;
  }
  const low = Math.min(...board.standings.map((s) => s.ci_low));
  const high = Math.max(...board.standings.map((s) => s.ci_high));
  const pad = Math.max(10, (high - low) * 0.05);
  const from = low - pad;
  const span = high - low + 2 * pad;
  const scale = (value) => ((value - from) / span) * 100;
  const ranks = board.standings.map((s) => s.rank);
  const rows = board.standings.map((s) => {
    const bar = h("span", { class: "ci-bar" });
    bar.style.left = `${scale(s.ci_low)}%`;
    bar.style.width = `${Math.max(0.5, scale(s.ci_high) - scale(s.ci_low))}%`;
    const dot = h("span", { class: "ci-dot" });
    dot.style.left = `${scale(s.rating)}%`;
    const rate = s.win_rate == null ? "—" : `${Math.round(s.win_rate * 100)} %`;
    const tied = ranks.filter((r) => r === s.rank).length > 1;
    const interval = `${Math.round(s.ci_low)} – ${Math.round(s.ci_high)}`;
    return h(
      "tr",
      { dataset: { provider: s.provider, model: s.model, rank: String(s.rank), tied: String(tied) } },
      h(
        "td",
        { class: "rank", title: tied ? `tied for ${s.rank}` : null },
        tied ? h("span", { class: "visually-hidden" }, "tied for ") : null,
        String(s.rank),
        tied ? h("span", { class: "tie-mark", "aria-hidden": "true" }, "=") : null,
      ),
      h("td", {}, h("strong", {}, displayName(s.provider)), " ", h("small", {}, s.model)),
      h("td", { class: "num rating" }, String(Math.round(s.rating))),
      h(
        "td",
        { class: "ci", title: `95 % interval: ${interval}` },
        h("span", { class: "ci-track" }, bar, dot),
        h("span", { class: "visually-hidden" }, interval),
      ),
      h("td", { class: "num interval", "aria-hidden": "true" }, interval),
      h("td", { class: "num" }, String(s.votes)),
      h("td", { class: "num" }, rate),
    );
  });
  const heads = ["#", "Model", "Rating", null, "low – high", "Votes", "Win rate"].map((t) =>
    t === null
      ? h("th", { scope: "col", class: "ci" }, h("span", { class: "visually-hidden" }, "95 % interval"), axis(from, span))
      : h("th", { scope: "col", class: t === "low – high" ? "num interval" : null }, t),
  );
  els.body.replaceChildren(
    h("div", { class: "leaderboard-scroll" }, h("table", { class: "leaderboard-table" }, h("thead", {}, h("tr", {}, ...heads)), h("tbody", {}, ...rows))),
    h(
      "p",
      { class: "help" },
      `${board.votes} vote${board.votes === 1 ? "" : "s"}. Bradley–Terry ratings on the Elo `,
      `scale (the models' mean is 1000), intervals from ${board.bootstrap_rounds} bootstrap `,
      "resamples. Ties and all-bad votes count as half a win each. Ratings that round to the ",
      "same number share their rank (=).",
    ),
  );
}

// The interval plot's axis: round ratings along the same scale as the bars.
function axis(from, span) {
  const step = STEPS.find((s) => span / s <= 5) || STEPS[STEPS.length - 1];
  const ticks = [];
  for (let value = Math.ceil(from / step) * step; value <= from + span; value += step) {
    const tick = h("span", { class: `tick${value === 1000 ? " mean" : ""}` }, String(value));
    tick.style.left = `${((value - from) / span) * 100}%`;
    ticks.push(tick);
  }
  return h("span", { class: "ci-axis", "aria-hidden": "true" }, ...ticks);
}

export function bindLeaderboard() {
  els.link.addEventListener("click", (event) => {
    event.preventDefault();
    if (state.view === "leaderboard") return;
    history.pushState(null, "", "#leaderboard");
    pushed = true;
    showLeaderboard();
  });
  els.close.addEventListener("click", backToConversation);
  els.window.addEventListener("change", showLeaderboard);
  on("shown", hideLeaderboard);
}
