// The Stateless messages (Hocuspocus type 5) between the page and examples/app.js besides the server's
// `{ instance, owner }`: one string, so that the server relays it only when it is exactly this.

/** A page made or restored a version: the server relays it to every page of the document, which refreshes its History panel. */
export const versionsChanged = JSON.stringify({ versions: 'changed' })
