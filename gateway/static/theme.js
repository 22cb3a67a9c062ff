// Light or dark: the system's choice until the reader presses the theme button, then theirs,
// remembered in this browser. The colours are style.css's, for html[data-theme].

import { byId } from "./dom.js";

const STORAGE_KEY = "multichat.theme";
const DARK = "(prefers-color-scheme: dark)";

const els = { button: byId("theme-toggle") };

function saved() {
  try {
    const theme = localStorage.getItem(STORAGE_KEY);
    return theme === "dark" || theme === "light" ? theme : null;
  } catch {
    return null;
  }
}

const current = () => saved() || (matchMedia(DARK).matches ? "dark" : "light");

function apply() {
  const theme = current();
  document.documentElement.dataset.theme = theme;
  const dark = theme === "dark";
  els.button.setAttribute("aria-pressed", String(dark));
  els.button.title = dark ? "Dark mode is on: switch to light" : "Switch to dark mode";
}

// Called first thing, before the page is shown, so that it never flashes the other theme.
export function initTheme() {
  apply();
  matchMedia(DARK).addEventListener("change", apply);
  els.button.addEventListener("click", () => {
    try {
      localStorage.setItem(STORAGE_KEY, current() === "dark" ? "light" : "dark");
    } catch {
      document.documentElement.dataset.theme = current() === "dark" ? "light" : "dark";
      return;
    }
    apply();
  });
}
