// The page of bench/abt-commit.mjs: the benchmark's livestore-rs schema, exposed to the driver.
import { createStore } from 'livestore-rs'
import { events, schema, todos } from '../livestore-rs/schema.js'
window.lib = { createStore, events, schema, todos }
// W3's setting: a store with a batch of 100 committed, the batch of 10,000 to
// commit as window.batch.
window.prepareW3 = async () => {
  const text = (i) => 'todo ' + ((i * 2654435761) >>> 0).toString(36).padStart(10, 'x').slice(0, 10)
  window.store = await createStore({ schema, storeId: 'p' + Date.now() })
  const items = (n, p) => Array.from({ length: n }, (_, i) => ({ id: p + i, text: text(i) }))
  window.store.commit(events.todosCreatedBatch({ items: items(100, 'w') }))
  window.batch = events.todosCreatedBatch({ items: items(10000, 'b') })
  await new Promise((r) => setTimeout(r, 100))
}
window.ready = true
