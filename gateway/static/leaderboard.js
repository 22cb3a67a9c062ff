// The leaderboard view: GET /api/v1/leaderboard as a table, each rating with its 95 %
// interval drawn as an error bar on one shared scale, and a time window to choose.

import { api } from "./api.js";
import { byId, h } from "./dom.js";
import { reportError } from "./notice.js";
import { displayName } from "./providers.js";
import { on } from "./state.js";

const els = {
  open: byId("show-leaderboard"),
  panel: byId("leaderboard"),
  close: byId("leaderboard-close"),
  window: byId("leaderboard-window"),
  body: byId("leaderboard-body"),
  transcript: byId("transcript"),
  composer: byId("composer"),
};

const getLeaderboard = (days) => api("GET", days ? `/leaderboard?days=${days}` : "/leaderboard");

async function show() {
  els.panel.hidden = false;
  els.transcript.hidden = true;
  els.composer.hidden = true;
  els.body.replaceChildren(h("p", { class: "leaderboard-empty" }, "Loading…"));
  try {
    render(await getLeaderboard(els.window.value));
  } catch (error) {
    els.body.replaceChildren();
    reportError(error);
  }
}

export function hideLeaderboard() {
  els.panel.hidden = true;
  els.transcript.hidden = false;
  els.composer.hidden = false;
}

function render(board) {
  if (!board.standings.length) {
    els.body.replaceChildren(
      h(
        "p",
        { class: "leaderboard-empty" },
        "No votes yet. Turn on Blind, ask a question, and vote for the best answer.",
      ),
    );
    return;
  }
  const low = Math.min(...board.standings.map((s) => s.ci_low));
  const high = Math.max(...board.standings.map((s) => s.ci_high));
  const pad = Math.max(10, (high - low) * 0.05);
  const scale = (value) => ((value - (low - pad)) / (high - low + 2 * pad)) * 100;
  const rows = board.standings.map((s, index) => {
    const bar = h("span", { class: "ci-bar" });
    bar.style.left = `${scale(s.ci_low)}%`;
    bar.style.width = `${Math.max(0.5, scale(s.ci_high) - scale(s.ci_low))}%`;
    const dot = h("span", { class: "ci-dot" });
    dot.style.left = `${scale(s.rating)}%`;
    const rate = s.win_rate == null ? "—" : `${Math.round(s.win_rate * 100)} %`;
    return h(
      "tr",
      { dataset: { provider: s.provider, model: s.model } },
      h("td", { class: "rank" }, String(index + 1)),
      h("td", {}, h("strong", {}, displayName(s.provider)), " ", h("small", {}, s.model)),
      h("td", { class: "num rating" }, String(Math.round(s.rating))),
      h(
        "td",
        { class: "ci", title: `95 % interval: ${Math.round(s.ci_low)} – ${Math.round(s.ci_high)}` },
        h("span", { class: "ci-track" }, bar, dot),
      ),
      h("td", { class: "num" }, `${Math.round(s.ci_low)} – ${Math.round(s.ci_high)}`),
      h("td", { class: "num" }, String(s.votes)),
      h("td", { class: "num" }, rate),
    );
  });
  els.body.replaceChildren(
    h(
      "table",
      { class: "leaderboard-table" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ...["#", "Model", "Rating", "95 % interval", "", "Votes", "Win rate"].map((t) =>
            h("th", { scope: "col" }, t),
          ),
        ),
      ),
      h("tbody", {}, ...rows),
    ),
    h(
      "p",
      { class: "help" },
      `${board.votes} vote${board.votes === 1 ? "" : "s"}. Bradley–Terry ratings on the Elo `,
      `scale (the models' mean is 1000), intervals from ${board.bootstrap_rounds} bootstrap `,
      "resamples. Ties and all-bad votes count as half a win each.",
    ),
  );
}

export function bindLeaderboard() {
  els.open.addEventListener("click", show);
  els.close.addEventListener("click", hideLeaderboard);
  els.window.addEventListener("change", show);
  on("shown", hideLeaderboard);
}
