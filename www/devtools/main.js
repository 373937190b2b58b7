// The devtools page: finds the stores of this origin that were created with
// `createStore({ devtools: true })` (in any tab), inspects the one picked (the
// first by default) and refreshes as it changes.
import { DevtoolsClient } from './client.js'
import { el } from './dom.js'
import { eventlogPanel } from './eventlog.js'
import { exportPanel } from './export.js'
import { liveQueriesPanel } from './live-queries.js'
import { sqlConsolePanel } from './sql-console.js'
import { syncStatusPanel } from './sync-status.js'
import { tablesPanel } from './tables.js'

/** Rediscovery and a fallback refresh, in case a change notice was missed. */
const POLL_MS = 2_000
/** Change notices within this time become one refresh. */
const REFRESH_DELAY_MS = 50

const $ = (sel) => document.querySelector(sel)
const picker = $('#store-picker')
const details = $('#store-details')
const app = $('#devtools')

/** What the panels talk to: the store picked. */
const store = {
  current: undefined,
  request(method, params, options) {
    if (!store.current) return Promise.reject(Object.assign(new Error('no store picked'), { code: 'NO_STORE' }))
    return client.request(store.current.responder, method, params, options)
  },
}

const panels = {
  tables: tablesPanel($('#panel-tables'), store),
  eventlog: eventlogPanel($('#panel-eventlog'), store),
  sql: sqlConsolePanel($('#panel-sql'), store),
  liveQueries: liveQueriesPanel($('#panel-live-queries'), store),
  sync: syncStatusPanel($('#panel-sync'), store),
  export: exportPanel($('#panel-export'), store),
}
const live = [panels.tables, panels.eventlog, panels.liveQueries, panels.sync]

const client = new DevtoolsClient({
  onStores: showStores,
  onChanged: (responder) => {
    if (responder === store.current?.responder) scheduleRefresh()
  },
})

function storeLabel(s) {
  return `${s.storeId} · session ${s.sessionId}${s.persisted ? ' · persisted' : ' · in memory'}${s.title ? ` · ${s.title}` : ''}`
}

function showStores(list) {
  picker.replaceChildren(...list.map((s) => el('option', { value: s.responder }, storeLabel(s))))
  if (!list.length) {
    app.dataset.state = 'waiting'
    details.textContent = 'No store answers. Open the app in another tab of this browser, created with createStore({ …, devtools: true }).'
    pick(undefined)
    return
  }
  const keep = list.find((s) => s.responder === store.current?.responder)
  pick(keep ?? list[0])
}

function pick(s) {
  const changed = s?.responder !== store.current?.responder
  store.current = s
  if (s) picker.value = s.responder
  if (!changed) return
  for (const p of Object.values(panels)) p.reset()
  if (!s) return
  app.dataset.state = 'connected'
  details.replaceChildren(
    ...[
      ['storeId', s.storeId],
      ['clientId', s.clientId],
      ['sessionId', s.sessionId],
      ['persisted', String(s.persisted)],
      ['page', s.url],
    ].flatMap(([k, v]) => [el('span', { className: 'key' }, k), el('span', { className: 'value', dataset: { key: k } }, v)]),
  )
  store.request('tables').then(
    (tables) => panels.sql.reset(tables.find((t) => !t.clientDocument)?.name ?? tables[0]?.name),
    () => {},
  )
  refresh()
}

picker.addEventListener('change', () => pick(client.stores.find((s) => s.responder === picker.value)))

// One refresh at a time; notices meanwhile ask for one more after it.
let refreshing = null
let again = false
let timer
function scheduleRefresh() {
  clearTimeout(timer)
  timer = setTimeout(refresh, REFRESH_DELAY_MS)
}
async function refresh() {
  if (refreshing) {
    again = true
    return refreshing
  }
  if (!store.current) return
  refreshing = Promise.all(live.map((p) => p.refresh())).finally(() => {
    refreshing = null
    app.dataset.refreshedAt = String(Date.now())
    if (again) {
      again = false
      refresh()
    }
  })
  return refreshing
}

client.discover()
setInterval(() => {
  client.discover()
  if (document.visibilityState === 'visible') refresh()
}, POLL_MS)
addEventListener('pagehide', () => client.close())
