// livestore-rs in memory: no adapter (the session's SQLite lives in this thread only).
export const variant = 'livestore-rs'
export const storeOptions = () => ({})
export const durable = null
export const durability = 'n/a (in-memory)'
export const shutdown = (store) => store.shutdown()
