// The vote under a blind turn's columns, and the reveal that follows it.
//
// A blind turn's columns are named by label (A, B, …) only: no name, no model, no colour, no
// figures, no sources (column.js, comparison.js), since the page does not learn who answered
// until the vote (the API withholds it). The reader picks the best answer, calls it a tie or
// all bad, or ranks them (1st, 2nd, …; those left out rank below). Then the columns and the
// bars take their real names, the figures appear, and the verdict is marked on the columns.
// turn.js tells this module about every turn on screen (turnExtensions).

import { api, getTurn } from "./api.js";
import { h } from "./dom.js";
import { reportError } from "./notice.js";
import { displayName } from "./providers.js";
import { turnExtensions } from "./turn.js";

const ORDINALS = ["1st", "2nd", "3rd", "4th", "5th", "6th", "7th", "8th", "9th"];
const VERDICTS = { tie: "You called it a tie.", all_bad: "You found them all bad." };

const vote = (turnId, body) => api("POST", `/turns/${encodeURIComponent(turnId)}/vote`, body);

let serial = 0;

class VoteBar {
  constructor(view) {
    this.view = view;
    this.voted = false;
    this.sending = false;
    this.labels = [];
    const id = `vote-${++serial}`;
    this.buttons = h("div", { class: "vote-labels" });
    this.rankToggle = h(
      "button",
      { type: "button", class: "button-small", "aria-expanded": "false", onclick: () => this.toggleRanking() },
      "Rank them…",
    );
    this.extra = h(
      "div",
      { class: "vote-extra" },
      this.button("tie", "It's a tie", { winner: "tie" }, "T"),
      this.button("all_bad", "All are bad", { winner: "all_bad" }, "X"),
      this.rankToggle,
    );
    this.rankError = h("p", { class: "vote-error", role: "alert", hidden: true });
    this.rankFields = h("div", { class: "rank-fields" });
    this.rankForm = h(
      "form",
      { class: "vote-rank", hidden: true, "aria-label": "Rank the answers" },
      h("p", { class: "vote-help" }, "Give each answer its place; those you leave out rank below."),
      this.rankFields,
      h("button", { type: "submit", class: "button-small primary vote-button", dataset: { vote: "ranking" } }, "Send the ranking"),
      this.rankError,
    );
    this.rankForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendRanking();
    });
    this.help = h("p", { class: "vote-help" }, "Which answer is best? Who wrote which is shown after you vote.");
    this.result = h("div", { class: "vote-result", role: "status", hidden: true });
    this.el = h(
      "section",
      { class: "vote", dataset: { turnId: view.turnId }, "aria-labelledby": `${id}-title` },
      h("h3", { class: "vote-title", id: `${id}-title` }, "Your vote"),
      this.help,
      this.buttons,
      this.extra,
      this.rankForm,
      this.result,
    );
  }

  button(choice, text, body, key) {
    return h(
      "button",
      {
        type: "button",
        class: "button-small vote-button",
        dataset: { vote: choice },
        "aria-keyshortcuts": key,
        onclick: () => this.cast(body),
      },
      text,
    );
  }

  update() {
    const labels = [...this.view.columns.keys()];
    if (labels.join() !== this.labels.join()) {
      this.labels = labels;
      this.buttons.replaceChildren(
        ...labels.map((label) => this.button(label, `${label} is best`, { winner: label }, label)),
      );
      this.rankFields.replaceChildren(...labels.map((label) => this.rankField(label, labels.length)));
    }
    // Read every answer first: the vote opens once the turn has ended.
    const open = this.open;
    for (const button of this.el.querySelectorAll(".vote-button, .rank-fields select")) button.disabled = !open;
    this.rankToggle.disabled = !open;
  }

  get open() {
    return this.view.ended && !this.voted && !this.sending;
  }

  rankField(label, count) {
    const places = ORDINALS.slice(0, count).map((text, i) => h("option", { value: String(i + 1) }, text));
    return h(
      "label",
      { class: "rank-field" },
      h("span", {}, `Answer ${label}`),
      h("select", { name: `rank-${label}`, dataset: { label } }, h("option", { value: "" }, "—"), ...places),
    );
  }

  toggleRanking() {
    const show = this.rankForm.hidden;
    this.rankForm.hidden = !show;
    this.rankToggle.setAttribute("aria-expanded", String(show));
    if (show) this.rankForm.querySelector("select")?.focus();
  }

  sendRanking() {
    const places = [...this.rankFields.querySelectorAll("select")]
      .filter((select) => select.value)
      .map((select) => ({ label: select.dataset.label, place: Number(select.value) }));
    const taken = new Set(places.map((p) => p.place));
    let problem = "";
    if (!places.length) problem = "Give at least one answer its place.";
    else if (taken.size < places.length) problem = "Two answers have the same place: give each its own.";
    this.rankError.textContent = problem;
    this.rankError.hidden = !problem;
    if (problem) return;
    places.sort((a, b) => a.place - b.place);
    this.cast({ ranking: places.map((p) => p.label) });
  }

  async cast(body) {
    if (!this.open) return;
    this.sending = true;
    this.update();
    try {
      this.show(await vote(this.view.turnId, body));
    } catch (error) {
      if (error.status === 409) await this.load(); // voted already (another tab)
      else reportError(error);
    } finally {
      this.sending = false;
      this.update();
    }
  }

  // A stored turn: has it been voted on? (GET /turns/{id} reveals it if so.)
  async load() {
    try {
      const turn = await getTurn(this.view.turnId);
      if (turn.vote) this.show(turn.vote);
    } catch {
      // Gone, or the gateway is away: the buttons stay, a vote would say why.
    }
  }

  show(result) {
    this.voted = true;
    reveal(this.view, result.revealed);
    const places = result.verdict === "ranking" ? result.ranking : [result.winner];
    for (const [label, column] of this.view.columns) {
      const place = places.indexOf(label);
      if (result.verdict === "tie" || result.verdict === "all_bad") {
        column.setBadge(result.verdict === "tie" ? "tie" : "bad", result.verdict);
      } else if (place === 0) column.setBadge(result.verdict === "ranking" ? "1st · your pick" : "your pick", "best");
      else if (place > 0) column.setBadge(ORDINALS[place], "place");
      else column.setBadge("", null);
    }
    const name = (label) => this.view.columns.get(label)?.displayName || label;
    let summary = VERDICTS[result.verdict] || "";
    if (result.verdict === "winner") summary = `You picked ${result.winner}: ${name(result.winner)}.`;
    if (result.verdict === "ranking") summary = `Your ranking: ${result.ranking.map((l) => `${l} ${name(l)}`).join(" > ")}.`;
    this.result.replaceChildren(
      h("p", { class: "vote-summary" }, summary),
      h(
        "ul",
        { class: "vote-reveal", "aria-label": "Who wrote which" },
        ...result.revealed.map((who) =>
          h(
            "li",
            { dataset: { provider: who.provider } },
            h("span", { class: "answer-label" }, who.label),
            h("strong", {}, displayName(who.provider)),
            h("span", { class: "answer-model" }, who.model),
          ),
        ),
      ),
    );
    for (const part of [this.help, this.buttons, this.extra, this.rankForm]) part.hidden = true;
    this.result.hidden = false;
    this.update();
  }
}

// Who each label was: names, models, colours and figures into the columns and the bars.
function reveal(view, revealed) {
  view.revealed = true;
  for (const who of revealed) view.columns.get(who.label)?.reveal(who);
  view.changed();
}

const bars = new WeakMap(); // TurnView -> VoteBar

turnExtensions.push({
  changed(view) {
    if (!view.blind || !view.turnId) return;
    let bar = bars.get(view);
    if (!bar) {
      bar = new VoteBar(view);
      bars.set(view, bar);
      view.grid.after(bar.el);
      if (!view.live) bar.load(); // a stored turn: maybe voted on already
    }
    bar.update();
  },
  event(view, type, data) {
    // Voted elsewhere while this stream was open.
    if (type !== "reveal" || !data.labels) return;
    const bar = bars.get(view);
    if (bar) bar.load();
    else reveal(view, Object.entries(data.labels).map(([label, who]) => ({ label, ...who })));
  },
});

// The keyboard's vote (A-E: that answer is best, T: a tie, X: all bad) goes to the newest
// blind turn on screen still open to a vote; false if there is none, or no such choice.
export function voteByKey(key) {
  const turns = [...document.querySelectorAll("#turns > .turn")].reverse();
  for (const el of turns) {
    const bar = el.layout && bars.get(el.layout.view);
    if (!bar || !bar.open) continue;
    const choice = key === "t" ? "tie" : key === "x" ? "all_bad" : key.toUpperCase();
    if (!bar.labels.includes(choice) && !["tie", "all_bad"].includes(choice)) return false;
    bar.cast({ winner: choice });
    return true;
  }
  return false;
}
