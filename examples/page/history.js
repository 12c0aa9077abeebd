// The History panel: the document's versions from the versions routes (examples/versions-routes.js), a
// preview of one with its diff against the current text, "Save version" and "Restore". A page that makes or
// restores a version tells the others (a Stateless message the server relays), and they refresh their lists.
import { versionsChanged } from './notices.js'

const pageSize = 20
// How long "Save version" waits for this tab's last edits to be acknowledged, so that the version holds them.
const flushTimeout = 10_000

const reasons = {
  interval: 'autosaved',
  disconnect: 'autosaved when everyone left',
  manual: 'saved',
  restore: 'before a restore'
}

const formatTime = (time) => new Date(time).toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' })

/**
 * Runs the History panel of index.html for one document.
 * @param {object} options
 * @param {string} options.documentName
 * @param {{ name: string }} options.user who restores (counted among the next version's authors).
 * @param {import('@hocuspocus/provider').HocuspocusProvider} options.provider this tab's provider: "Save version"
 *   waits for its edits to be acknowledged, and the other pages are told through it.
 * @returns {{ refresh: () => Promise<void> }} `refresh` reloads the list (main.js calls it when another page
 *   says the versions changed); it never rejects, a failure is shown in the panel.
 */
export function mountHistory ({ documentName, user, provider }) {
  const base = `/api/documents/${encodeURIComponent(documentName)}/versions`
  const panel = document.querySelector('#history')
  const list = document.querySelector('#versions')
  const older = document.querySelector('#older-versions')
  const status = document.querySelector('#history-status')
  const form = document.querySelector('#save-version')
  const label = document.querySelector('#version-label')
  const preview = document.querySelector('#preview')
  const restore = document.querySelector('#restore')
  let next = null
  let selected = null

  function say (text, state = 'idle') {
    status.textContent = text
    status.dataset.state = state
  }

  async function call (method, path, body) {
    const init = body === undefined ? { method } : { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }
    const response = await fetch(base + path, init)
    const answer = await response.json()
    if (!response.ok) throw new Error(answer.message ?? `HTTP ${response.status}`)
    return answer
  }

  /** Runs `fn` with the panel's buttons disabled; a failure is said in the panel. */
  async function busy (fn) {
    const buttons = panel.querySelectorAll('button')
    for (const button of buttons) button.disabled = true
    try {
      await fn()
    } catch (error) {
      say(error.message, 'error')
    } finally {
      for (const button of buttons) button.disabled = false
      if (preview.dataset.unchanged === 'true') restore.disabled = true
    }
  }

  function item (version) {
    const entry = document.createElement('li')
    entry.dataset.id = String(version.id)
    const button = document.createElement('button')
    button.type = 'button'
    button.className = 'version'
    button.setAttribute('aria-pressed', String(version.id === selected))
    const title = document.createElement('span')
    title.className = 'title'
    title.textContent = version.label ?? reasons[version.reason]
    const time = document.createElement('time')
    time.dateTime = version.time
    time.textContent = formatTime(version.time)
    const authors = document.createElement('span')
    authors.className = 'authors'
    authors.textContent = version.authors.length === 0 ? 'no edits by name' : version.authors.join(', ')
    button.append(title, time, authors)
    button.addEventListener('click', () => busy(() => show(version.id)))
    entry.append(button)
    return entry
  }

  function showPage ({ versions, next: cursor }, append) {
    const items = versions.map(item)
    if (append) list.append(...items)
    else list.replaceChildren(...items)
    next = cursor
    older.hidden = next === null
  }

  // One list request at a time; a refresh asked meanwhile runs once after it.
  let loading = null
  let again = false
  async function refresh () {
    if (!panel.open) return
    if (loading !== null) {
      again = true
      return await loading
    }
    loading = (async () => {
      do {
        again = false
        try {
          showPage(await call('GET', `?limit=${pageSize}`), false)
        } catch (error) {
          say(error.message, 'error')
        }
      } while (again)
    })()
    try {
      await loading
    } finally {
      loading = null
    }
  }

  function diffNodes (changes) {
    return changes.map(({ type, text }) => {
      if (type === 'equal') return document.createTextNode(text)
      const node = document.createElement(type === 'insert' ? 'ins' : 'del')
      node.textContent = text
      return node
    })
  }

  async function show (id) {
    const version = await call('GET', `/${id}`)
    selected = id
    for (const button of list.querySelectorAll('.version')) button.setAttribute('aria-pressed', String(button.parentElement.dataset.id === String(id)))
    document.querySelector('#preview-title').textContent = `Version ${id}: ${version.label ?? reasons[version.reason]}, ${formatTime(version.time)}`
    const asOf = new Date()
    document.querySelector('#preview-time').dateTime = asOf.toISOString()
    document.querySelector('#preview-time').textContent = asOf.toLocaleTimeString()
    const { changes, inserted, deleted } = version.diff
    const diff = document.querySelector('#preview-diff')
    if (inserted + deleted === 0) diff.replaceChildren(document.createTextNode(version.text === '' ? '(empty, as now)' : version.text))
    else diff.replaceChildren(...diffNodes(changes))
    preview.dataset.id = String(id)
    preview.dataset.unchanged = String(inserted + deleted === 0)
    preview.hidden = false
    say(inserted + deleted === 0 ? `Version ${id} is the current text.` : `Version ${id}: ${inserted} characters added since, ${deleted} deleted.`)
  }

  function hidePreview () {
    selected = null
    preview.hidden = true
    delete preview.dataset.id
    delete preview.dataset.unchanged
    for (const button of list.querySelectorAll('.version')) button.setAttribute('aria-pressed', 'false')
  }

  /** Resolves once the server acknowledged every edit of this tab, or after `flushTimeout` ms (offline). */
  function flushed () {
    return new Promise((resolve) => {
      if (!provider.hasUnsyncedChanges) return resolve()
      const done = () => {
        clearTimeout(timer)
        provider.off('unsyncedChanges', check)
        resolve()
      }
      const check = () => { if (!provider.hasUnsyncedChanges) done() }
      const timer = setTimeout(done, flushTimeout)
      provider.on('unsyncedChanges', check)
    })
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault()
    busy(async () => {
      say('Saving a version…', 'busy')
      await flushed()
      const text = label.value.trim()
      const version = await call('POST', '', text === '' ? {} : { label: text })
      label.value = ''
      provider.sendStateless(versionsChanged)
      await refresh()
      say(`Saved version ${version.id}.`, 'done')
    })
  })

  restore.addEventListener('click', () => {
    const id = selected
    busy(async () => {
      say(`Restoring version ${id}…`, 'busy')
      const { saved } = await call('POST', `/${id}/restore`, { user: user.name })
      provider.sendStateless(versionsChanged)
      hidePreview()
      await refresh()
      say(`Restored version ${id}; the text it replaced is version ${saved.id}.`, 'done')
    })
  })

  older.addEventListener('click', () => busy(async () => {
    showPage(await call('GET', `?limit=${pageSize}&before=${next}`), true)
  }))

  panel.addEventListener('toggle', () => { if (panel.open) refresh() })
  refresh()
  return { refresh }
}
