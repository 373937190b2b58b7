// The page of bench/abt-commit.mjs: the benchmark's livestore-rs schema, exposed to the driver.
import { createStore } from 'livestore-rs'
import { events, schema, todos } from '../livestore-rs/schema.js'
window.lib = { createStore, events, schema, todos }
window.ready = true
