// Live queries: the store's queryDb and computed nodes in use, with how many
// times each was (re)computed and how long that took, and who listens.
import { el, errorBox, msText } from './dom.js'

export function liveQueriesPanel(section, store) {
  const body = el('div')
  section.append(body)

  async function refresh() {
    let list
    try {
      list = await store.request('liveQueries')
    } catch (err) {
      body.replaceChildren(errorBox(err))
      return
    }
    if (!list.length) {
      body.replaceChildren(el('p', { className: 'empty' }, 'No live queries: nothing is subscribed.'))
      return
    }
    const head = ['query', 'runs', 'last ms', 'total ms', 'subscribers', 'dependents']
    body.replaceChildren(
      el(
        'table',
        { className: 'data' },
        el('thead', {}, el('tr', {}, ...head.map((c) => el('th', { scope: 'col' }, c)))),
        el(
          'tbody',
          {},
          ...list.map((q) =>
            el(
              'tr',
              { dataset: { label: q.label, kind: q.kind, runs: String(q.runs) } },
              el(
                'td',
                { className: 'args query', title: q.query },
                el('div', { className: 'label' }, q.label, el('span', { className: 'tag' }, q.kind)),
                el('div', { className: 'sql' }, q.query || '(a computed value)'),
              ),
              el('td', { className: 'num runs' }, String(q.runs)),
              el('td', { className: 'num' }, msText(q.lastMs)),
              el('td', { className: 'num' }, msText(q.totalMs)),
              el('td', { className: 'num' }, String(q.subscribers)),
              el('td', { className: 'num' }, String(q.dependents)),
            ),
          ),
        ),
      ),
    )
  }

  return { refresh, reset: () => body.replaceChildren() }
}
