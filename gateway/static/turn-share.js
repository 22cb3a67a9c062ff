// Share on each finished turn: the share dialog (share-link.js) opened with that question
// chosen, so one question can be shared without finding it in the dialog's list. A blind
// turn's is there before its vote too, as Edit is: what its link opens withholds the answers
// and their names until the vote (the gateway's rule, not this button's).
// turn.js tells this module about every turn on screen (turnExtensions).

import { h } from "./dom.js";
import { shareTurn } from "./share-link.js";
import { state } from "./state.js";
import { turnExtensions } from "./turn.js";

function shareButton(view) {
  return h(
    "button",
    {
      type: "button",
      class: "button-small turn-share",
      "aria-label": "Share this question",
      "aria-haspopup": "dialog",
      hidden: true,
      onclick: () => shareTurn(state.conversationId, view.turnId),
    },
    "Share",
  );
}

turnExtensions.push({
  changed(view) {
    if (!view.shareEl) {
      view.shareEl = shareButton(view);
      view.promptBar.append(view.shareEl);
    }
    // Finished and stored in the conversation on screen: a turn still streaming has nothing
    // to show yet, and a lone one (resumed from the URL) no conversation to share it from.
    // Not while its prompt is being edited: the form's Send and Cancel are its buttons then.
    view.shareEl.hidden = !(view.turnId && view.ended && state.conversationId) || view.editing;
  },
  event() {},
});
