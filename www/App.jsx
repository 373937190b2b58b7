// The TodoMVC components. Each reads what it shows with a hook: useQuery for
// live queries, useClientDocument for the uiState document (filter and draft).
import { useEffect, useState } from 'react'
import { queryDb } from 'livestore-rs'
import { useClientDocument, useQuery, useStore, useSyncStatus } from 'livestore-rs/react'
import { events, todos, uiState } from './schema.js'

// Defined once, outside components: each is one live query of the store.
const visibleTodos$ = queryDb(todos.where({ deletedAt: null }).orderBy('id', 'asc'), { label: 'visibleTodos' })
const activeCount$ = queryDb(todos.where({ completed: false, deletedAt: null }).count(), { label: 'activeCount' })
const completedCount$ = queryDb(todos.where({ completed: true, deletedAt: null }).count(), { label: 'completedCount' })

// Ids sort in creation order (time, then a counter), so the list keeps its order.
let idCounter = 0
const newId = () => `${Date.now().toString(36).padStart(9, '0')}-${(idCounter++).toString(36).padStart(4, '0')}`

/** Commits, showing a refused commit (its error has a `code`) instead of throwing. */
function useCommit(onError) {
  const { store } = useStore()
  return (...evs) => {
    try {
      store.commit(...evs)
    } catch (err) {
      onError(err)
    }
  }
}

function Header({ commit }) {
  const [{ newTodoText }, setUi] = useClientDocument(uiState)
  const submit = (e) => {
    e.preventDefault()
    const text = newTodoText.trim()
    if (text) commit(events.todoCreated({ id: newId(), text }), uiState.set({ newTodoText: '' }))
  }
  return (
    <header>
      <h1>todos</h1>
      <form id="new-todo-form" onSubmit={submit}>
        <input
          id="new-todo"
          className="new-todo"
          placeholder="What needs to be done?"
          autoComplete="off"
          autoFocus
          value={newTodoText}
          onChange={(e) => setUi({ newTodoText: e.target.value })}
        />
      </form>
    </header>
  )
}

function TodoList({ commit }) {
  const rows = useQuery(visibleTodos$)
  const [{ filter }] = useClientDocument(uiState)
  const shown = filter === 'all' ? rows : rows.filter((t) => (filter === 'active' ? !t.completed : t.completed))
  return (
    <section className="main">
      <ul id="todo-list" className="todo-list">
        {shown.map((t) => (
          <li key={t.id} data-id={t.id} className={t.completed ? 'completed' : ''}>
            <input
              type="checkbox"
              className="toggle"
              checked={t.completed}
              aria-label={`${t.completed ? 'reopen' : 'complete'} ${t.text}`}
              onChange={() => commit(t.completed ? events.todoUncompleted({ id: t.id }) : events.todoCompleted({ id: t.id }))}
            />
            <label>{t.text}</label>
            <button type="button" className="destroy" aria-label={`delete ${t.text}`} onClick={() => commit(events.todoDeleted({ id: t.id, deletedAt: new Date() }))}>
              ×
            </button>
          </li>
        ))}
      </ul>
    </section>
  )
}

function Footer({ commit }) {
  const active = useQuery(activeCount$)
  const completed = useQuery(completedCount$)
  const [{ filter }, setUi] = useClientDocument(uiState)
  return (
    <footer className="footer">
      <span id="active-count" className="todo-count">
        {active} {active === 1 ? 'item' : 'items'} left
      </span>
      <ul className="filters">
        {['all', 'active', 'completed'].map((f) => (
          <li key={f}>
            <button type="button" data-filter={f} className={f === filter ? 'selected' : ''} onClick={() => setUi({ filter: f })}>
              {f[0].toUpperCase() + f.slice(1)}
            </button>
          </li>
        ))}
      </ul>
      <span id="completed-count" className="completed-count">
        {completed} completed
      </span>
      <button
        type="button"
        id="clear-completed"
        className="clear-completed"
        hidden={completed === 0}
        onClick={() => commit(events.todoClearedCompleted({ deletedAt: new Date() }))}
      >
        Clear completed
      </button>
    </footer>
  )
}

function SyncLine() {
  const s = useSyncStatus()
  const text = !s.enabled ? 'not syncing' : `${s.online ? 'online' : `offline (${s.phase})`} · ${s.pending ? `${s.pending} pending` : 'all synced'}`
  return (
    <p id="sync-status" className="sync-status" data-online={String(s.online)} data-pending={s.pending}>
      {text}
      {s.error ? ` · ${s.error.code}` : ''}
    </p>
  )
}

export function App({ onReady }) {
  const { store } = useStore()
  const [error, setError] = useState(null)
  const commit = useCommit(setError)
  useEffect(() => {
    // Errors after commit (sync refusals, subscriber errors) come through onError.
    const onStoreError = (e) => setError(e.detail)
    window.addEventListener('livestore-error', onStoreError)
    window.__store = store
    onReady()
    return () => window.removeEventListener('livestore-error', onStoreError)
  }, [store, onReady])
  return (
    <main id="app" className="todoapp">
      <Header commit={commit} />
      <TodoList commit={commit} />
      <Footer commit={commit} />
      <SyncLine />
      {error && (
        <p id="error" className="error" role="alert">
          {error.code ? `[${error.code}] ` : ''}
          {error.message ?? String(error)}
        </p>
      )}
    </main>
  )
}
