// The page of examples/tiptap: a Tiptap editor bound to a Y.Doc that a HocuspocusProvider syncs.
import { Editor } from '@tiptap/core'
import StarterKit from '@tiptap/starter-kit'
import Collaboration from '@tiptap/extension-collaboration'
import CollaborationCaret from '@tiptap/extension-collaboration-caret'
import { HocuspocusProvider } from '@hocuspocus/provider'

const params = new URLSearchParams(window.location.search)
const colors = ['#d7263d', '#1b998b', '#2e86ab', '#f46036', '#7b2cbf']
const user = {
  name: (params.get('name') ?? '').trim().slice(0, 32) || 'Anonymous',
  color: colors[Math.floor(Math.random() * colors.length)]
}

const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws'
const provider = new HocuspocusProvider({
  url: `${scheme}://${window.location.host}/collab`,
  name: params.get('doc') ?? 'tiptap'
})

const editor = new Editor({
  element: document.querySelector('#editor'),
  extensions: [
    // Collaboration brings its own undo (each user undoes their own changes): StarterKit's would undo the others'.
    StarterKit.configure({ undoRedo: false }),
    Collaboration.configure({ document: provider.document }),
    CollaborationCaret.configure({ provider, user })
  ]
})

// "saved": synced, and every change acknowledged by the server after the SQLite store wrote it.
const status = document.querySelector('#status')
let socket = 'connecting'
function renderStatus () {
  const state = socket !== 'connected' ? socket : !provider.isSynced ? 'syncing' : provider.hasUnsyncedChanges ? 'saving' : 'saved'
  status.textContent = state
  status.dataset.state = state
}
provider.on('status', (event) => { socket = event.status; renderStatus() })
provider.on('synced', renderStatus)
provider.on('unsyncedChanges', renderStatus)

// Handles for the test and the console.
window.collab = { provider, editor, user }
