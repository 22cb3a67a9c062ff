// A popover: a button that opens a small panel beside it (settings, the model picker). The
// panel closes on Escape (the focus goes back to its button), on a click outside it, or when
// the button is pressed again; opening one closes any other. Modules with a panel of their own
// (a turn's settings, say) make it with `popover(button, panel)`.

const open = new Set();

export class Popover {
  constructor(button, panel, { onOpen = null } = {}) {
    this.button = button;
    this.panel = panel;
    this.onOpen = onOpen;
    if (!panel.id) panel.id = `popover-${Math.random().toString(36).slice(2)}`;
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", panel.id);
    panel.hidden = true;
    panel.classList.add("popover");
    button.addEventListener("click", () => this.toggle());
    panel.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      event.preventDefault(); // not a Stop
      this.close(true);
    });
  }

  get isOpen() {
    return !this.panel.hidden;
  }

  toggle() {
    if (this.isOpen) this.close(false);
    else this.show();
  }

  show() {
    for (const other of [...open]) other.close(false);
    this.panel.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    open.add(this);
    if (this.onOpen) this.onOpen();
    const first = this.panel.querySelector("input, select, button, textarea, a[href]");
    if (first) first.focus();
  }

  close(refocus) {
    if (!this.isOpen) return;
    this.panel.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
    open.delete(this);
    if (refocus) this.button.focus();
  }
}

export const popover = (button, panel, options) => new Popover(button, panel, options);

export function closePopovers() {
  for (const one of [...open]) one.close(false);
}

document.addEventListener("pointerdown", (event) => {
  for (const one of [...open]) {
    if (!one.panel.contains(event.target) && !one.button.contains(event.target)) one.close(false);
  }
});
