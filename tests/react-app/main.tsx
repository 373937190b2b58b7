// The React bindings under test, as an app uses them. `?case=` picks the scenario:
//   app (default)  provider with the persisted adapter, components with render counters
//   error          a provider whose store cannot start
//   outside        a hook used outside any provider
// The test drives it through window.__test and reads what rendered.
import { Component, StrictMode, useState, type ReactNode } from 'react'
import { createRoot } from 'react-dom/client'
import { makePersistedAdapter, queryDb, type BootStatus } from 'livestore-rs'
import { LiveStoreProvider, useClientDocument, useQuery, useStore, useSyncStatus } from 'livestore-rs/react'
import LeaderWorker from './livestore.worker.ts?worker'
import { events, schema, todos, uiState } from './schema.ts'

const params = new URLSearchParams(location.search)
const renders = { open: 0, count: 0, doc: 0, sync: 0, inline: 0 }
const bootStatuses: (string | null)[] = [] // what renderLoading was called with
const bootStages: string[] = [] // every onBootStatus report
const test = { renders, bootStatuses, bootStages } as Record<string, unknown>
;(window as unknown as { __test: typeof test }).__test = test

const openTodos$ = queryDb(todos.where({ completed: false }).orderBy('text', 'asc'), { label: 'openTodos' })

function OpenTodos() {
  renders.open++
  const rows = useQuery(openTodos$)
  return (
    <ul id="open">
      {rows.map((t) => (
        <li key={t.id}>{t.text}</li>
      ))}
    </ul>
  )
}

// The query is built inline on every render: the same query keeps its subscription.
function InlineCount({ min }: { min: string }) {
  renders.inline++
  const n = useQuery(todos.where({ text: { op: '>=', value: min } }).count())
  return <p id="inline-count">{n}</p>
}

function Count() {
  renders.count++
  const [min, setMin] = useState('')
  const n = useQuery(queryDb(todos.count(), { label: 'count' }))
  return (
    <>
      <p id="count">{n}</p>
      <InlineCount min={min} />
      <button id="min-m" onClick={() => setMin('m')}>
        from m
      </button>
    </>
  )
}

function Doc() {
  renders.doc++
  const [ui, setUi, id] = useClientDocument(uiState)
  return (
    <div id="doc" data-id={id}>
      <span id="filter">{ui.filter}</span>
      <span id="draft">{ui.draft}</span>
      <button id="active" onClick={() => setUi({ filter: 'active' })}>
        active
      </button>
      <button id="append" onClick={() => setUi((v) => ({ draft: `${v.draft}x` }))}>
        append
      </button>
    </div>
  )
}

function Sync() {
  renders.sync++
  const s = useSyncStatus()
  return <p id="sync">{`${s.enabled}:${s.pending}`}</p>
}

function App() {
  const { store } = useStore<typeof schema>()
  // Untyped on purpose: the test passes names and args as JSON.
  test.commit = (name: keyof typeof events, args: unknown) => store.commit((events[name] as unknown as (a: unknown) => ReturnType<typeof events.todoCreated>)(args))
  test.shutdown = () => store.shutdown()
  test.flush = () => store.flush()
  test.storeId = store.storeId
  return (
    <main id="ready">
      <OpenTodos />
      <Count />
      <Doc />
      <Sync />
    </main>
  )
}

class Boundary extends Component<{ children: ReactNode }, { error: (Error & { code?: string }) | null }> {
  state = { error: null as (Error & { code?: string }) | null }
  static getDerivedStateFromError(error: Error) {
    return { error }
  }
  render() {
    return this.state.error ? <p id="caught">{`${this.state.error.code}: ${this.state.error.message}`}</p> : this.props.children
  }
}

const adapter = makePersistedAdapter({ storage: { type: 'opfs' }, worker: LeaderWorker })
const loading = (s: BootStatus | undefined) => {
  bootStatuses.push(s ? s.stage : null)
  return <p id="loading">{s?.stage ?? 'starting'}</p>
}
const failed = (e: unknown) => <p id="failed">{`${(e as { code?: string }).code}: ${(e as Error).message}`}</p>
const shutdown = ({ reason }: { reason: string }) => <p id="shutdown">{reason}</p>

const cases: Record<string, () => ReactNode> = {
  app: () => (
    <StrictMode>
      <LiveStoreProvider
        schema={schema}
        storeId={params.get('store') ?? 'react'}
        adapter={adapter}
        renderLoading={loading}
        renderError={failed}
        renderShutdown={shutdown}
        onBootStatus={(s) => bootStages.push(s.stage)}
        boot={(store) => {
          if (store.query(todos.count()) === 0) store.commit(events.todoCreated({ id: 'seed', text: 'seeded at boot' }))
        }}
      >
        <App />
      </LiveStoreProvider>
    </StrictMode>
  ),
  error: () => (
    <LiveStoreProvider schema={schema} storeId="" renderError={failed}>
      <App />
    </LiveStoreProvider>
  ),
  outside: () => (
    <Boundary>
      <OpenTodos />
    </Boundary>
  ),
}

createRoot(document.getElementById('root')!).render(cases[params.get('case') ?? 'app']())
