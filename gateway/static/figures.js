// An answer's figures: time to first token, speed, total time, tokens and cost, from a `done`
// event or a stored message, and how each is written. A stopped answer has no usage from its
// provider (that comes at the end): its tokens are estimated from the text that arrived, at
// the usual four characters a token, and say so.

import { state } from "./state.js";

const CHARS_PER_TOKEN = 4;

export function figuresOf(answer) {
  const ttft = num(answer.ttft_ms);
  const total = num(answer.latency_ms);
  const usage = answer.usage || {};
  const input = num(usage.input_tokens ?? answer.input_tokens);
  let output = num(usage.output_tokens ?? answer.output_tokens);
  const reasoning = num(usage.reasoning_tokens); // part of the output, before the first token
  let estimated = false;
  const content = answer.content || "";
  if (output == null && content !== "") {
    output = Math.max(1, Math.round(content.length / CHARS_PER_TOKEN));
    estimated = true;
  }
  // The answer's own speed: its reasoning came before its first token.
  const answered = output == null ? null : output - (reasoning || 0);
  let speed = null;
  if (answered != null && ttft != null && total != null && total > ttft && answered > 0) {
    speed = answered / ((total - ttft) / 1000);
  }
  const cost = num(answer.cost_usd);
  // Only a complete answer can be the best at anything: a failed or stopped one was cut short.
  const rankable = answer.status === "complete";
  return { ttft, total, speed, input, output, reasoning, estimated, cost, rankable };
}

function num(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

export function formatMs(ms) {
  if (ms == null) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

export function formatSpeed(rate) {
  if (rate == null) return "—";
  return `${rate.toFixed(rate < 10 ? 1 : 0)} tok/s`;
}

// Two parts ("2279 in", "203 out"), so that a narrow card can break the line between them;
// a third for the reasoning tokens, which the output counts ("56 reasoning").
export function tokenParts(figures) {
  if (figures.input == null && figures.output == null) return ["—"];
  const part = (n) => (n == null ? "?" : String(n));
  const parts = [`${part(figures.input)} in`, `${figures.estimated ? "≈" : ""}${part(figures.output)} out`];
  if (figures.reasoning) parts.push(`${figures.reasoning} reasoning`);
  return parts;
}

export function formatCost(usd) {
  if (usd == null) return "—";
  if (usd === 0) return "$0";
  if (usd < 0.0001) return "<$0.0001";
  return `$${usd < 1 ? usd.toFixed(4) : usd.toFixed(2)}`;
}

// A cost is an estimate from token counts; a simulated answer cost nothing, so its estimate
// (what the real model would have cost) is shown only when asked for (Settings).
export function costShown(cost, simulated) {
  return cost != null && (simulated !== true || state.prefs.simulatedCosts);
}
