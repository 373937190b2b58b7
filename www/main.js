// The demo: a small TodoMVC on livestore-rs. Every change is an event committed
// to the store; the list, the counts and the filter are live queries whose
// subscribers update the DOM. The store is persisted in OPFS by the leader
// worker (./livestore.worker.js), which syncs it with the sync server that
// scripts/dev starts.
import { createStore, makePersistedAdapter, queryDb } from 'livestore-rs'
import LeaderWorker from './livestore.worker.js?worker'
import { events, schema, todos, uiState } from './schema.js'

// --- queries -------------------------------------------------------------------

// Ids sort in creation order (time, then a counter), so the list keeps its order.
let idCounter = 0
const newId = () => `${Date.now().toString(36).padStart(9, '0')}-${(idCounter++).toString(36).padStart(4, '0')}`

const visibleTodos$ = queryDb(todos.where({ deletedAt: null }).orderBy('id', 'asc'))
const activeTodos$ = queryDb(todos.where({ completed: false, deletedAt: null }))
const completedTodos$ = queryDb(todos.where({ completed: true, deletedAt: null }))
const uiState$ = queryDb(uiState.get())

// --- DOM -----------------------------------------------------------------------

const $ = (sel) => document.querySelector(sel)
const app = $('#app')
const input = $('#new-todo')
const list = $('#todo-list')

function showError(err) {
  console.error(err)
  const el = $('#error')
  el.hidden = false
  el.textContent = `${err?.code ? `[${err.code}] ` : ''}${err?.message ?? err}`
}

let rows = []
let filter = 'all'

function renderList() {
  const shown = rows.filter((t) => (filter === 'active' ? !t.completed : filter === 'completed' ? t.completed : true))
  list.replaceChildren(
    ...shown.map((t) => {
      const li = document.createElement('li')
      li.dataset.id = t.id
      li.className = t.completed ? 'completed' : ''
      const toggle = document.createElement('input')
      toggle.type = 'checkbox'
      toggle.className = 'toggle'
      toggle.checked = Boolean(t.completed)
      toggle.disabled = Boolean(t.completed)
      toggle.setAttribute('aria-label', `complete ${t.text}`)
      const label = document.createElement('label')
      label.textContent = t.text
      li.append(toggle, label)
      return li
    }),
  )
}

async function main() {
  const store = await createStore({
    schema,
    storeId: 'demo',
    adapter: makePersistedAdapter({ storage: { type: 'opfs' }, worker: LeaderWorker }),
    onError: showError,
    devtools: true, // /devtools.html inspects this store
  })
  const renderSync = (s) => {
    const el = $('#sync-status')
    el.dataset.online = String(s.online)
    el.textContent = !s.enabled ? 'not syncing' : `${s.online ? 'online' : s.phase}${s.pending ? ` · ${s.pending} pending` : ' · all synced'}`
  }
  renderSync(store.syncStatus)
  store.subscribeSyncStatus(renderSync)
  const commit = (...evs) => {
    try {
      store.commit(...evs)
    } catch (err) {
      showError(err)
    }
  }

  store.subscribe(visibleTodos$, (value) => {
    rows = value
    renderList()
  })
  store.subscribe(activeTodos$, (value) => {
    const n = value.length
    $('#active-count').textContent = `${n} ${n === 1 ? 'item' : 'items'} left`
  })
  store.subscribe(completedTodos$, (value) => {
    $('#completed-count').textContent = `${value.length} completed`
    $('#clear-completed').hidden = value.length === 0
  })
  store.subscribe(uiState$, (ui) => {
    filter = ui.filter
    for (const b of document.querySelectorAll('[data-filter]')) b.classList.toggle('selected', b.dataset.filter === filter)
    if (input.value !== ui.newTodoText) input.value = ui.newTodoText
    renderList()
  })

  // The draft text lives in the client document, as in LiveStore's TodoMVC.
  input.addEventListener('input', () => commit(uiState.set({ newTodoText: input.value })))
  $('#new-todo-form').addEventListener('submit', (e) => {
    e.preventDefault()
    const text = input.value.trim()
    if (!text) return
    commit(events.todoCreated({ id: newId(), text }), uiState.set({ newTodoText: '' }))
  })
  list.addEventListener('change', (e) => {
    const li = e.target.closest('li')
    if (e.target.classList.contains('toggle') && li) commit(events.todoCompleted({ id: li.dataset.id }))
  })
  for (const b of document.querySelectorAll('[data-filter]')) {
    b.addEventListener('click', () => commit(uiState.set({ filter: b.dataset.filter })))
  }
  $('#clear-completed').addEventListener('click', () => commit(events.todoClearedCompleted({ deletedAt: new Date() })))

  window.__store = store
  app.dataset.ready = 'true'
}

main().catch((err) => {
  showError(err)
  app.dataset.ready = 'error'
})
