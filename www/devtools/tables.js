// Tables: every table of the schema (client documents included) with its row
// count, and the rows of the one picked, a page at a time.
import { dataTable, el, errorBox } from './dom.js'

const PAGE = 50

export function tablesPanel(section, store) {
  const list = el('ul', { className: 'table-list' })
  const rows = el('div', { className: 'rows' })
  section.append(el('div', { className: 'tables' }, list, rows))
  let picked
  let offset = 0

  async function refresh() {
    let tables
    try {
      tables = await store.request('tables')
    } catch (err) {
      list.replaceChildren()
      rows.replaceChildren(errorBox(err))
      return
    }
    if (!tables.some((t) => t.name === picked)) {
      picked = tables[0]?.name
      offset = 0
    }
    list.replaceChildren(
      ...tables.map((t) =>
        el(
          'li',
          {},
          el(
            'button',
            {
              type: 'button',
              className: t.name === picked ? 'selected' : '',
              dataset: { table: t.name },
              onclick: () => {
                picked = t.name
                offset = 0
                refresh()
              },
            },
            t.name,
            t.clientDocument ? el('span', { className: 'tag' }, 'client document') : undefined,
            el('span', { className: 'count' }, String(t.count)),
          ),
        ),
      ),
    )
    if (picked) await showRows()
  }

  async function showRows() {
    let page
    try {
      page = await store.request('rows', { table: picked, offset, limit: PAGE })
    } catch (err) {
      rows.replaceChildren(errorBox(err))
      return
    }
    const last = Math.min(page.offset + page.rows.length, page.total)
    const move = (to) => () => {
      offset = Math.max(0, to)
      showRows()
    }
    rows.replaceChildren(
      el(
        'div',
        { className: 'pager' },
        el('span', { className: 'range' }, page.total ? `${page.table}: rows ${page.offset + 1}–${last} of ${page.total}` : `${page.table}: no rows`),
        el('button', { type: 'button', dataset: { page: 'previous' }, disabled: page.offset === 0, onclick: move(page.offset - PAGE) }, '← previous'),
        el('button', { type: 'button', dataset: { page: 'next' }, disabled: last >= page.total, onclick: move(page.offset + PAGE) }, 'next →'),
      ),
      dataTable(page.columns, page.rows, { rowProps: (r) => ({ dataset: { id: String(r.id ?? '') } }) }),
    )
  }

  return {
    refresh,
    reset() {
      picked = undefined
      offset = 0
      list.replaceChildren()
      rows.replaceChildren()
    },
  }
}
