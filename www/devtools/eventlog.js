// The eventlog, newest first, a page at a time: seqNum, event, args, origin,
// and whether the server has it (synced: at or below the leader's sync head)
// or not yet (pending).
import { el, errorBox, seqText, valueText } from './dom.js'

const PAGE = 50

export function eventlogPanel(section, store) {
  const summary = el('p', { className: 'summary' })
  const body = el('div', { className: 'events' })
  const newer = el('button', { type: 'button', dataset: { page: 'newer' }, onclick: () => move(cursors.pop() ?? null) }, '← newer')
  const older = el('button', { type: 'button', dataset: { page: 'older' }, onclick: () => move(lastShown, true) }, 'older →')
  const newest = el('button', { type: 'button', dataset: { page: 'newest' }, onclick: () => ((cursors = []), move(null)) }, 'newest')
  section.append(el('div', { className: 'pager' }, summary, newest, newer, older), body)
  // `before` of the page shown (null: the newest); the pages before it, to go back.
  let before = null
  let cursors = []
  let lastShown = null

  function move(to, forward = false) {
    if (forward) cursors.push(before)
    before = to
    return refresh()
  }

  async function refresh() {
    let page
    try {
      page = await store.request('eventlog', { before, limit: PAGE })
    } catch (err) {
      body.replaceChildren(errorBox(err))
      return
    }
    lastShown = page.events.at(-1)?.seqNum ?? null
    newer.disabled = before === null
    newest.disabled = before === null
    older.disabled = !page.more
    const sync = page.syncing ? `sync head ${seqText(page.syncHead)}` : page.source === 'leader' ? 'not syncing' : 'in memory: not persisted, not synced'
    summary.textContent = `head ${seqText(page.head)} · ${sync} · from the ${page.source}`
    const rows = page.events.map((e) => {
      const status = e.synced ? 'synced' : 'pending'
      return el(
        'tr',
        { dataset: { seq: seqText(e.seqNum), status, name: e.name } },
        el('td', { className: 'seq', title: `parent ${seqText(e.parentSeqNum)}` }, seqText(e.seqNum)),
        el('td', { className: 'name' }, e.name, e.clientOnly ? el('span', { className: 'tag' }, 'client-only') : undefined),
        el('td', { className: 'args', title: valueText(e.args) }, valueText(e.args)),
        el('td', { className: 'id' }, e.clientId),
        el('td', { className: 'id' }, e.sessionId),
        el('td', {}, el('span', { className: `status ${status}` }, status)),
      )
    })
    body.replaceChildren(
      page.events.length
        ? el(
            'table',
            { className: 'data' },
            el('thead', {}, el('tr', {}, ...['seqNum', 'event', 'args', 'clientId', 'sessionId', 'status'].map((c) => el('th', { scope: 'col' }, c)))),
            el('tbody', {}, ...rows),
          )
        : el('p', { className: 'empty' }, 'No events yet.'),
    )
  }

  return {
    refresh,
    reset() {
      before = null
      cursors = []
      body.replaceChildren()
    },
  }
}
