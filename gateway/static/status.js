// The `status` event in words: where a provider is while it has nothing to stream
// ("retrying 2/3 in 1 s"), shown in its column's status line until its text comes.

const FINISHED = new Set(["complete", "failed", "cancelled"]);

export function statusText(data) {
  const of = `${data.attempt}/${data.attempts}`;
  if (data.state === "retrying") return `retrying ${of} in ${seconds(data.retry_in_ms)}`;
  if (data.state === "waiting") return data.attempt > 1 ? `waiting · attempt ${of}` : "waiting";
  return "streaming";
}

function seconds(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "a moment";
  const s = ms / 1000;
  return `${s < 10 ? Math.round(s * 10) / 10 : Math.round(s)} s`;
}

// column: an AnswerColumn (turn.js); its own status (waiting, streaming …) stays as it is.
export function showStatus(column, data) {
  if (FINISHED.has(column.status)) return;
  column.statusEl.textContent = statusText(data);
  column.el.dataset.progress = data.state;
}
