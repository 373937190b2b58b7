// The demo: TodoMVC on livestore-rs with its React bindings. Every change is an
// event committed to the store; the list, the counts and the filter are live
// queries. The store is persisted in OPFS by the leader worker
// (./livestore.worker.js), which syncs it with the sync server that scripts/dev
// starts; open it in a second tab or browser.
import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { makePersistedAdapter } from 'livestore-rs'
import { LiveStoreProvider } from 'livestore-rs/react'
import LeaderWorker from './livestore.worker.js?worker'
import { schema } from './schema.js'
import { App } from './App.jsx'

// Created once, outside components: the provider boots again when it changes.
const adapter = makePersistedAdapter({ storage: { type: 'opfs' }, worker: LeaderWorker })

const root = document.getElementById('root')
const setReady = (state) => (root.dataset.ready = state)

function Loading({ status }) {
  return (
    <main className="todoapp boot" data-ready="false">
      <p className="boot-status">
        Loading… {status?.stage ?? 'starting'}
        {status?.total ? ` ${status.done} / ${status.total}` : ''}
      </p>
    </main>
  )
}

function BootError({ error }) {
  setReady('error')
  return (
    <main className="todoapp">
      <p id="error" className="error" role="alert">
        {error?.code ? `[${error.code}] ` : ''}
        {error?.message ?? String(error)}
      </p>
    </main>
  )
}

function Shutdown({ reason }) {
  setReady('shutdown')
  return (
    <main className="todoapp">
      <p className="boot-status">
        {reason === 'reset' ? 'The local data was reset in another tab.' : 'The store was shut down.'}{' '}
        <button type="button" onClick={() => location.reload()}>
          Reload
        </button>
      </p>
    </main>
  )
}

createRoot(root).render(
  <StrictMode>
    <LiveStoreProvider
      schema={schema}
      storeId="demo"
      adapter={adapter}
      devtools // /devtools/ inspects this store
      renderLoading={(status) => <Loading status={status} />}
      renderError={(error) => <BootError error={error} />}
      renderShutdown={(info) => <Shutdown reason={info.reason} />}
      onError={(error) => window.dispatchEvent(new CustomEvent('livestore-error', { detail: error }))}
    >
      <App onReady={() => setReady('true')} />
    </LiveStoreProvider>
  </StrictMode>,
)
