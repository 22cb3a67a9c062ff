// A shared view (/s/<token>): reads this same address as JSON and shows it, read-only. It
// calls no API and holds no key: the link's token is all it has, and all it needs. Everything
// is built as DOM nodes (dom.js, markdown.js): nothing an answer says can become markup.

import { h } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import { plainText } from "./markdown-inline.js";

const els = {
  title: document.getElementById("share-title"),
  meta: document.getElementById("share-meta"),
  content: document.getElementById("share-content"),
};

// Light or dark as the system says, or as the reader chose on the page (theme.js's choice).
function followTheme() {
  const dark = matchMedia("(prefers-color-scheme: dark)");
  const apply = () => {
    let chosen = null;
    try {
      chosen = localStorage.getItem("multichat.theme");
    } catch {
      chosen = null;
    }
    const theme = chosen === "dark" || chosen === "light" ? chosen : dark.matches ? "dark" : "light";
    document.documentElement.dataset.theme = theme;
  };
  apply();
  dark.addEventListener("change", apply);
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");

async function load() {
  let response;
  try {
    response = await fetch(location.pathname, { headers: { accept: "application/json" } });
  } catch {
    return gone("Cannot reach the server.");
  }
  if (!response.ok) return gone("This link does not exist, or is no longer shared.");
  const data = await response.json();
  if (data.kind === "leaderboard") showLeaderboard(data);
  else showConversation(data);
  document.documentElement.dataset.ready = "true";
}

function gone(message) {
  els.title.textContent = "Not shared";
  document.title = "Not shared · Multichat";
  els.content.replaceChildren(h("p", { class: "share-gone" }, message));
  document.documentElement.dataset.ready = "true";
}

function meta(data) {
  const parts = [`Shared ${when(data.shared_at)}`];
  if (data.expires_at) parts.push(`until ${when(data.expires_at)}`);
  return parts.join(" ");
}

// -- a conversation, or one turn -------------------------------------------------------------

function showConversation(data) {
  const title = data.title ? plainText(data.title) : "A shared question";
  els.title.textContent = title;
  document.title = `${title} · Multichat`;
  const extra = [];
  if (data.context_policy) extra.push(`context: ${data.context_policy}`);
  if (data.show_costs && data.cost_usd != null) extra.push(`total cost ${cost(data.cost_usd)}`);
  els.meta.textContent = [meta(data), ...extra].join(" · ");
  els.content.replaceChildren(...data.turns.map((turn, i) => showTurn(turn, i, data.turns.length)));
}

function showTurn(turn, index, count) {
  const heading = count > 1 ? `Question ${index + 1}` : "Question";
  const prompt = h(
    "div",
    { class: "share-prompt" },
    h("h2", { class: "share-prompt-label" }, heading),
    h("p", { class: "share-prompt-text" }, turn.prompt ?? ""),
  );
  if (turn.images) {
    const images = turn.images === 1 ? "1 image" : `${turn.images} images`;
    prompt.append(h("p", { class: "share-note" }, `${images} attached (not shared)`));
  }
  if (turn.settings) prompt.append(h("p", { class: "share-note" }, settingsText(turn.settings)));
  const notes = [];
  if (turn.blind && !turn.voted) {
    notes.push(h("p", { class: "share-note" }, "A blind comparison not judged yet: its answers are withheld."));
  } else if (turn.blind) {
    notes.push(h("p", { class: "share-note share-verdict" }, verdictText(turn.vote)));
  }
  return h(
    "section",
    { class: "share-turn", "aria-label": heading },
    prompt,
    notes,
    h("div", { class: "share-answers" }, turn.answers.map(showAnswer)),
  );
}

// How a blind turn was judged, in the labels its answers carry (their names are shown too).
function verdictText(vote) {
  const blind = "Answered blind, labelled A, B, …; the vote revealed the names.";
  if (!vote) return blind;
  if (vote.verdict === "tie") return `${blind} Judged a tie.`;
  if (vote.verdict === "all_bad") return `${blind} Judged all bad.`;
  if (vote.verdict === "ranking" && vote.ranking) return `${blind} Ranked ${vote.ranking.join(", ")}, best first.`;
  return `${blind} Voted best: ${vote.winner}.`;
}

function settingsText(settings) {
  const parts = [];
  if (settings.system) parts.push(`system prompt: “${settings.system}”`);
  for (const [name, value] of Object.entries(settings.params || {})) {
    if (value != null) parts.push(`${name.replace("_", " ")}: ${value}`);
  }
  return parts.length ? `Settings: ${parts.join(" · ")}` : "Settings: each model's defaults";
}

function showAnswer(answer) {
  const name = answer.withheld
    ? `Answer ${answer.label}`
    : [answer.label, answer.provider].filter(Boolean).join(" · ");
  const head = h("header", { class: "share-answer-head" }, h("h3", { class: "share-answer-name" }, name));
  if (answer.withheld) {
    return h(
      "article",
      { class: "share-answer", dataset: { label: answer.label, withheld: "true" } },
      head,
      h("p", { class: "share-note" }, "Withheld until the comparison is judged."),
    );
  }
  if (answer.model) head.append(h("span", { class: "share-model" }, answer.model));
  if (answer.simulated) head.append(h("span", { class: "tag tag-sim" }, "simulated"));
  const body = h("div", { class: "answer-text share-text" });
  renderMarkdown(answer.content || "", body);
  const parts = [head];
  if (answer.thinking) {
    const thinking = h("div", { class: "answer-text share-thinking" });
    renderMarkdown(answer.thinking, thinking);
    parts.push(h("details", { class: "share-reasoning" }, h("summary", {}, "Reasoning"), thinking));
  }
  parts.push(body);
  if (answer.error) parts.push(h("p", { class: "answer-error" }, answer.error.message));
  else if (answer.status !== "complete") parts.push(h("p", { class: "share-note" }, answer.status));
  parts.push(h("p", { class: "share-figures" }, figures(answer)));
  return h(
    "article",
    { class: "share-answer", dataset: { provider: answer.provider || "", label: answer.label || "" } },
    parts,
  );
}

function figures(answer) {
  const out = [];
  if (answer.ttft_ms != null) out.push(`first token ${seconds(answer.ttft_ms)}`);
  if (answer.latency_ms != null) out.push(`total ${seconds(answer.latency_ms)}`);
  if (answer.usage && answer.usage.output_tokens != null) out.push(`${answer.usage.output_tokens} tokens`);
  if (answer.cost_usd != null) out.push(cost(answer.cost_usd));
  return out.join(" · ");
}

const seconds = (ms) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);
const cost = (usd) => (usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`);

// -- the leaderboard ---------------------------------------------------------------------------

function showLeaderboard(data) {
  els.title.textContent = "Leaderboard";
  document.title = "Leaderboard · Multichat";
  const window = data.days ? `the last ${data.days} days` : "all time";
  const kind = data.live ? "live" : "as it was when shared";
  els.meta.textContent = `${meta(data)} · ${kind} · ${window} · ${data.votes ?? 0} votes`;
  if (!data.standings || !data.standings.length) {
    els.content.replaceChildren(h("p", { class: "share-gone" }, "No votes yet."));
    return;
  }
  const rows = data.standings.map((s) =>
    h(
      "tr",
      {},
      h("td", {}, String(s.rank)),
      h("th", { scope: "row" }, `${s.provider} · ${s.model}`),
      h("td", {}, s.rating.toFixed(0)),
      h("td", {}, `${s.ci_low.toFixed(0)} – ${s.ci_high.toFixed(0)}`),
      h("td", {}, String(s.votes)),
      h("td", {}, s.win_rate == null ? "–" : `${Math.round(s.win_rate * 100)} %`),
    ),
  );
  const head = ["Rank", "Model", "Rating", "95 % interval", "Votes", "Win rate"].map((t) =>
    h("th", { scope: "col" }, t),
  );
  els.content.replaceChildren(
    h(
      "table",
      { class: "share-table" },
      h("caption", { class: "visually-hidden" }, "Models by rating"),
      h("thead", {}, h("tr", {}, head)),
      h("tbody", {}, rows),
    ),
  );
}

followTheme();
load();
