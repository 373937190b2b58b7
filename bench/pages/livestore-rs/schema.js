// The todo schema of the benchmark, in livestore-rs (same DSL names as LiveStore).
import { Events, Schema, State, makeSchema } from 'livestore-rs'

export const todos = State.SQLite.table({
  name: 'todos',
  columns: {
    id: State.SQLite.text({ primaryKey: true }),
    text: State.SQLite.text({ default: '' }),
    completed: State.SQLite.boolean({ default: false }),
    deletedAt: State.SQLite.integer({ nullable: true }),
  },
})

const Item = Schema.Struct({ id: Schema.String, text: Schema.String })

export const events = {
  todoCreated: Events.synced({ name: 'v1.TodoCreated', schema: Item }),
  todoCompleted: Events.synced({ name: 'v1.TodoCompleted', schema: Schema.Struct({ id: Schema.String }) }),
  todosCreatedBatch: Events.synced({ name: 'v1.TodosCreatedBatch', schema: Schema.Struct({ items: Schema.Array(Item) }) }),
}

const materializers = State.SQLite.materializers(events, {
  'v1.TodoCreated': ({ id, text }) => todos.insert({ id, text, completed: false }),
  'v1.TodoCompleted': ({ id }) => todos.update({ completed: true }).where({ id }),
  'v1.TodosCreatedBatch': ({ items }) => items.map(({ id, text }) => todos.insert({ id, text, completed: false })),
})

export const schema = makeSchema({ events, state: State.SQLite.makeState({ tables: { todos }, materializers }) })
