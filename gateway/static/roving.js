// One Tab stop for a whole list (the conversations, the search results): Tab enters the list at
// its current item, the arrow keys, Home and End move within it. In a row, Right reaches the
// row's own buttons (Rename, Delete) and Left comes back; F2 and Delete act on the row.

const ITEM = ".conv-open";

// Make `current` (or the list's first item) the list's one Tab stop.
export function rove(list, current = null) {
  const items = [...list.querySelectorAll(ITEM)];
  const stop = current && items.includes(current) ? current : list.querySelector(`${ITEM}[aria-current]`) || items[0];
  for (const item of items) item.tabIndex = item === stop ? 0 : -1;
  for (const button of list.querySelectorAll(".conv-actions button")) button.tabIndex = -1;
}

export function bindRoving(list, { rename = null, remove = null } = {}) {
  list.addEventListener("keydown", (event) => {
    const items = [...list.querySelectorAll(ITEM)];
    const row = event.target.closest("li");
    const item = row && row.querySelector(ITEM);
    if (!item || event.altKey || event.ctrlKey || event.metaKey) return;
    const at = items.indexOf(item);
    const actions = [...row.querySelectorAll(".conv-actions button")];
    let target = null;
    switch (event.key) {
      case "ArrowDown":
        target = items[Math.min(items.length - 1, at + 1)];
        break;
      case "ArrowUp":
        target = items[Math.max(0, at - 1)];
        break;
      case "Home":
        target = items[0];
        break;
      case "End":
        target = items[items.length - 1];
        break;
      case "ArrowRight":
        target = actions[actions.indexOf(event.target) + 1] || null;
        break;
      case "ArrowLeft":
        target = event.target === item ? null : actions[actions.indexOf(event.target) - 1] || item;
        break;
      case "F2":
        if (rename && event.target === item) rename(row);
        break;
      case "Delete":
        if (remove && event.target === item) remove(row);
        break;
      default:
        return;
    }
    event.preventDefault();
    if (!target) return;
    if (target.matches(ITEM)) rove(list, target);
    target.focus();
  });
  list.addEventListener("focusin", (event) => {
    if (event.target.matches(ITEM)) rove(list, event.target);
  });
}
