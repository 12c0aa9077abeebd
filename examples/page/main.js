// The demo page: CodeMirror 6 bound to a Y.Text through y-codemirror.next, synced with
// @hocuspocus/provider. Hocuspocus clients get a SyncStatus after the server has durably
// stored each update, so "Saved" here means written to SQLite, not merely sent. The History
// panel is examples/page/history.js.
import * as Y from 'yjs'
import { HocuspocusProvider } from '@hocuspocus/provider'
import { basicSetup, EditorView } from 'codemirror'
import { EditorState } from '@codemirror/state'
import { keymap } from '@codemirror/view'
import { yCollab, yUndoManagerKeymap } from 'y-codemirror.next'
import { mountHistory } from './history.js'
import { pickDocument, pickUser } from './identity.js'
import { versionsChanged } from './notices.js'

const params = new URLSearchParams(window.location.search)
const documentName = pickDocument(params)
const user = pickUser(params)

const ydoc = new Y.Doc()
const ytext = ydoc.getText('codemirror')
const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws'
// `?user=` names this tab as the author of its edits in the document's history.
const provider = new HocuspocusProvider({
  url: `${scheme}://${window.location.host}/collab/${encodeURIComponent(documentName)}?user=${encodeURIComponent(user.name)}`,
  name: documentName,
  document: ydoc
})
provider.awareness.setLocalStateField('user', user)

const undoManager = new Y.UndoManager(ytext)
const view = new EditorView({
  parent: document.querySelector('#editor'),
  state: EditorState.create({
    doc: ytext.toString(),
    extensions: [
      keymap.of(yUndoManagerKeymap),
      basicSetup,
      EditorView.lineWrapping,
      yCollab(ytext, provider.awareness, { undoManager })
    ]
  })
})

// Status: the socket's state, then whether every local change has been acknowledged.
const statusElement = document.querySelector('#status')
let socketStatus = 'connecting'
function renderStatus () {
  let text = socketStatus
  if (socketStatus === 'connected') {
    if (!provider.isSynced) text = 'syncing'
    else text = provider.hasUnsyncedChanges ? 'saving' : 'saved'
  }
  statusElement.textContent = text
  statusElement.dataset.state = text
}
provider.on('status', ({ status }) => { socketStatus = status; renderStatus() })
provider.on('synced', renderStatus)
provider.on('unsyncedChanges', renderStatus)
provider.on('authenticationFailed', ({ reason }) => {
  socketStatus = `denied: ${reason}`
  renderStatus()
})

// Presence: one entry per awareness state that carries a user, this tab first.
const presenceElement = document.querySelector('#presence')
function renderPresence () {
  const entries = []
  for (const [clientId, state] of provider.awareness.getStates()) {
    if (state.user == null) continue
    entries.push({ clientId, self: clientId === ydoc.clientID, ...state.user })
  }
  entries.sort((a, b) => Number(b.self) - Number(a.self) || a.name.localeCompare(b.name))
  presenceElement.replaceChildren(...entries.map((entry) => {
    const item = document.createElement('li')
    item.dataset.clientId = String(entry.clientId)
    const swatch = document.createElement('span')
    swatch.className = 'swatch'
    swatch.style.background = entry.color
    const name = document.createElement('span')
    name.className = 'name'
    name.textContent = entry.self ? `${entry.name} (you)` : entry.name
    item.append(swatch, name)
    return item
  }))
}
provider.awareness.on('change', renderPresence)
renderPresence()

const historyPanel = mountHistory({ documentName, user, provider })

// Which instance serves this page's socket, and which one owns the document: with
// `npm run start:cluster` they differ for every tab that the proxy sent to another instance than
// the owner. The owner says so each time this client attaches (a Stateless message, see
// examples/app.js), so the header follows every reconnect and failover. The server also relays
// another page's news that the versions changed (examples/page/notices.js).
const instanceElement = document.querySelector('#instance')
const ownerElement = document.querySelector('#owner')
const short = (id) => id.slice(0, 8)
provider.on('stateless', ({ payload }) => {
  if (payload === versionsChanged) return historyPanel.refresh()
  const { instance, owner } = JSON.parse(payload)
  instanceElement.textContent = short(instance)
  instanceElement.dataset.instance = instance
  ownerElement.textContent = owner === instance ? `${short(owner)} (this instance)` : short(owner)
  ownerElement.dataset.owner = owner
})

// Document switcher: a plain GET form to `/?doc=name`, plus the current name.
document.querySelector('#doc-name').value = documentName
document.querySelector('#current-doc').textContent = documentName
document.title = `${documentName} · fastify-collab`

// Handles for the browser test and for curious people in the console.
window.collab = { provider, ydoc, ytext, view, documentName, user, historyPanel }
