// Sync status: where the store stands with the sync server.
import { el, errorBox, seqText } from './dom.js'

export function syncStatusPanel(section, store) {
  const body = el('div')
  section.append(body)

  async function refresh() {
    let s
    try {
      s = await store.request('syncStatus')
    } catch (err) {
      body.replaceChildren(errorBox(err))
      return
    }
    const connection = !s.enabled ? 'not syncing' : s.online ? 'online' : s.phase
    const items = [
      ['connection', connection, { state: s.online ? 'online' : s.enabled ? 'offline' : 'disabled' }],
      ['phase', s.phase],
      ['pending', String(s.pending)],
      ['head', seqText(s.head)],
      ['upstream head', seqText(s.upstreamHead)],
      ['backend id', s.backendId ?? '–'],
      ['error', s.error ? `${s.error.code}: ${s.error.message}` : 'none'],
    ]
    body.replaceChildren(
      el('dl', { className: 'sync' }, ...items.flatMap(([k, v, data]) => [el('dt', {}, k), el('dd', { dataset: { key: k, ...(data ?? {}) } }, v)])),
    )
  }

  return { refresh, reset: () => body.replaceChildren() }
}
