// SQL console: a read query against the app's state (its session's SQLite).
// The store refuses anything but a read: state changes only through events.
import { dataTable, el, errorBox, msText } from './dom.js'

export function sqlConsolePanel(section, store) {
  const input = el('textarea', { id: 'sql-input', rows: 3, spellcheck: false, placeholder: 'SELECT * FROM …  (Ctrl+Enter runs it)' })
  const run = el('button', { type: 'submit', id: 'sql-run' }, 'Run')
  const result = el('div', { className: 'sql-result', id: 'sql-result' })
  const form = el('form', { className: 'sql-form', onsubmit: (e) => (e.preventDefault(), execute()) }, input, run)
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault()
      execute()
    }
  })
  section.append(form, result)

  async function execute() {
    const sql = input.value
    run.disabled = true
    const start = performance.now()
    try {
      const r = await store.request('sql', { sql })
      const shown = r.rows.length < r.total ? `first ${r.rows.length} of ${r.total} rows` : `${r.total} ${r.total === 1 ? 'row' : 'rows'}`
      result.replaceChildren(
        el('p', { className: 'summary', dataset: { total: String(r.total) } }, `${shown} · ${msText(performance.now() - start)} ms`),
        r.columns.length ? dataTable(r.columns, r.rows) : undefined,
      )
    } catch (err) {
      result.replaceChildren(errorBox(err))
    } finally {
      run.disabled = false
    }
  }

  return {
    /** A first query for the store picked: its first table. */
    reset(firstTable) {
      input.value = firstTable ? `SELECT * FROM "${firstTable}" LIMIT 20` : ''
      result.replaceChildren()
    },
  }
}
