// The app's schema, shared by the page and the leader worker.
import { Events, Schema, State, makeSchema } from 'livestore-rs'

declare const __SCHEMA_VERSION__: number
export const schemaVersion = __SCHEMA_VERSION__

const columns = {
  id: State.SQLite.text({ primaryKey: true }),
  text: State.SQLite.text({ default: '' }),
  completed: State.SQLite.boolean({ default: false }),
}
// Version 2 adds a column (typed away here: it has a default): another table
// layout, so tabs of v1 and v2 cannot share a leader.
const v2Columns = { ...columns, priority: State.SQLite.integer({ default: 0 }) }

export const todos = State.SQLite.table({ name: 'todos', columns: schemaVersion === 2 ? (v2Columns as typeof columns) : columns })

export const uiState = State.SQLite.clientDocument({
  name: 'uiState',
  schema: Schema.Struct({ filter: Schema.Literal('all', 'active', 'completed') }),
  default: { value: { filter: 'all' } },
})

export const events = {
  todoCreated: Events.synced({ name: 'v1.TodoCreated', schema: Schema.Struct({ id: Schema.String, text: Schema.String }) }),
  todoCompleted: Events.synced({ name: 'v1.TodoCompleted', schema: Schema.Struct({ id: Schema.String }) }),
  uiStateSet: uiState.set,
}

// Version 2 also changes a materializer: the state is rebuilt from the eventlog.
const materializers = State.SQLite.materializers(events, {
  'v1.TodoCreated':
    schemaVersion === 2
      ? ({ id, text }) => todos.insert({ id, text: text.toUpperCase() })
      : ({ id, text }) => todos.insert({ id, text }),
  'v1.TodoCompleted': ({ id }) => todos.update({ completed: true }).where({ id }),
})

export const schema = makeSchema({
  events,
  state: State.SQLite.makeState({ tables: { todos, uiState }, materializers }),
  // The conflict rule: a todo created offline with an id another client took
  // first is kept under a new id instead of failing on the primary key.
  onRebase: (event, { query }) => {
    if (event.name !== 'v1.TodoCreated') return 'keep'
    const taken = query(todos.where({ id: event.args.id }).first())
    return taken ? events.todoCreated({ ...event.args, id: `${event.args.id}-copy` }) : 'keep'
  },
})
