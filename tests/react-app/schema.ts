import { Events, Schema, State, makeSchema } from 'livestore-rs'

export const todos = State.SQLite.table({
  name: 'todos',
  columns: {
    id: State.SQLite.text({ primaryKey: true }),
    text: State.SQLite.text({ default: '' }),
    completed: State.SQLite.boolean({ default: false }),
  },
})

export const uiState = State.SQLite.clientDocument({
  name: 'uiState',
  schema: Schema.Struct({ filter: Schema.Literal('all', 'active', 'completed'), draft: Schema.String }),
  default: { value: { filter: 'all', draft: '' } },
})

export const events = {
  todoCreated: Events.synced({ name: 'v1.TodoCreated', schema: Schema.Struct({ id: Schema.String, text: Schema.String }) }),
  todoCompleted: Events.synced({ name: 'v1.TodoCompleted', schema: Schema.Struct({ id: Schema.String }) }),
  uiStateSet: uiState.set,
}

const materializers = State.SQLite.materializers(events, {
  'v1.TodoCreated': ({ id, text }) => todos.insert({ id, text }),
  'v1.TodoCompleted': ({ id }) => todos.update({ completed: true }).where({ id }),
})

export const schema = makeSchema({ events, state: State.SQLite.makeState({ tables: { todos, uiState }, materializers }) })
