// Export: the store's database files (eventlog and state, SQLite), from its
// leader, downloaded as <storeId>-eventlog.db and <storeId>-state.db.
import { bytesText, el, errorBox } from './dom.js'

export function exportPanel(section, store) {
  const button = el('button', { type: 'button', id: 'export-run', onclick: () => run() }, 'Export the database')
  const result = el('div', { id: 'export-result' })
  section.append(el('p', {}, button), result)
  let urls = []

  async function run() {
    button.disabled = true
    try {
      const { eventlog, state } = await store.request('export', {}, { timeoutMs: 60_000 })
      for (const u of urls) URL.revokeObjectURL(u)
      const name = store.current?.storeId ?? 'store'
      const links = [
        [`${name}-eventlog.db`, eventlog],
        [`${name}-state.db`, state],
      ].map(([file, bytes]) => {
        const url = URL.createObjectURL(new Blob([bytes], { type: 'application/vnd.sqlite3' }))
        return el('a', { href: url, download: file, className: 'download' }, `${file} (${bytesText(bytes.length)})`)
      })
      urls = links.map((a) => a.href)
      result.replaceChildren(el('p', {}, 'Downloaded: ', links[0], ' and ', links[1], '. Open them with any SQLite tool.'))
      for (const a of links) a.click()
    } catch (err) {
      result.replaceChildren(errorBox(err))
    } finally {
      button.disabled = false
    }
  }

  return { reset: () => result.replaceChildren() }
}
