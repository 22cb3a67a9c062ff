// Showing and hiding the sidebar: a drawer over the page on phones, a column that can be
// folded away on wider screens.

import { byId } from "./dom.js";

const PHONE = "(max-width: 900px)";

const els = { app: byId("app"), backdrop: byId("backdrop"), menu: byId("menu-toggle") };

const onPhone = () => matchMedia(PHONE).matches;

// open: true or false, or leave it out to switch.
export function toggleSidebar(open) {
  if (onPhone()) {
    const value = open ?? !els.app.classList.contains("sidebar-open");
    els.app.classList.toggle("sidebar-open", value);
    els.backdrop.hidden = !value;
    els.menu.setAttribute("aria-expanded", String(value));
  } else {
    const collapsed = open == null ? !els.app.classList.contains("sidebar-collapsed") : !open;
    els.app.classList.toggle("sidebar-collapsed", collapsed);
    els.menu.setAttribute("aria-expanded", String(!collapsed));
  }
}

export function closeSidebarOnPhone() {
  if (els.app.classList.contains("sidebar-open")) toggleSidebar(false);
}

export function bindDrawer() {
  els.menu.addEventListener("click", () => toggleSidebar());
  els.backdrop.addEventListener("click", () => toggleSidebar(false));
}

// The drawer starts closed on phones; the column starts open elsewhere.
export function initDrawer() {
  els.menu.setAttribute("aria-expanded", String(!onPhone()));
}
