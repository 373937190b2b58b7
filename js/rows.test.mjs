// Query result rows from the flat arrays of the wasm core (rows.js), with the
// arrays built here as src/bindings/rows.rs builds them. Run: node --test js/rows.test.mjs
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildRows } from './rows.js'

/** The arguments of buildRows for `columns` and rows of [kind, value] cells. */
function flat(columns, rows) {
  const kinds = []
  const numbers = []
  const others = []
  let text = ''
  const ends = []
  const addText = (s) => {
    text += s
    ends.push(text.length)
  }
  columns.forEach(addText)
  for (const row of rows) {
    for (const [kind, value] of row) {
      kinds.push(kind)
      if (kind === 1 || kind === 7) numbers.push(value)
      if (kind === 4 || kind === 6) addText(value)
      if (kind === 5) others.push(value)
    }
  }
  return [columns.length, Uint8Array.from(kinds), Float64Array.from(numbers), text, Uint32Array.from(ends), others.length ? others : undefined]
}

test('every kind of cell becomes its JS value, keyed by column', () => {
  const bytes = new Uint8Array([1, 2])
  const rows = buildRows(
    ...flat(
      ['id', 'n', 'done', 'note', 'tags', 'due', 'raw'],
      [
        [[4, 'a'], [1, 1.5], [2], [0], [6, '["x",{"y":1}]'], [7, 86400000], [5, bytes]],
        [[4, 'b'], [1, -3], [3], [4, ''], [6, 'not json'], [0], [0]],
      ],
    ),
  )
  assert.deepEqual(rows, [
    { id: 'a', n: 1.5, done: true, note: null, tags: ['x', { y: 1 }], due: new Date(86400000), raw: bytes },
    { id: 'b', n: -3, done: false, note: '', tags: 'not json', due: null, raw: null },
  ])
  assert.deepEqual(Object.keys(rows[1]), ['id', 'n', 'done', 'note', 'tags', 'due', 'raw'])
})

test('text outside ASCII and in column names is cut at UTF-16 offsets', () => {
  const rows = buildRows(...flat(['name 🙂', 'é'], [[[4, '日本'], [4, 'a😀b']], [[4, 'x'], [4, 'ÿ']]]))
  assert.deepEqual(rows, [{ 'name 🙂': '日本', é: 'a😀b' }, { 'name 🙂': 'x', é: 'ÿ' }])
})

test('no rows is an empty array', () => {
  assert.deepEqual(buildRows(...flat(['id', 'text'], [])), [])
})
