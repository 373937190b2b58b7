// The JSON form of commits (wire.js): exact where used, and the fallback to
// the field-by-field path for values JSON cannot carry exactly.
// Run: node --test js/wire.test.mjs
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { eventsJson, writesJson } from './wire.js'

const ev = (args) => [{ name: 'e', args }]

test('events become [{ name, args }] JSON, Dates as epoch ms at any depth', () => {
  const text = eventsJson([
    { name: 'v1.A "quoted"', args: { id: 'a', at: new Date(5), n: 1.5, list: [new Date(7), null], none: undefined } },
    { name: 'b', args: undefined },
  ])
  assert.deepEqual(JSON.parse(text), [
    { name: 'v1.A "quoted"', args: { id: 'a', at: 5, n: 1.5, list: [7, null] } },
    { name: 'b', args: null },
  ])
})

test('values without an exact JSON form take the other path', () => {
  const unsafe = [NaN, Infinity, 2 ** 53, 10n, () => 1, Symbol('s'), new Uint8Array(1), new Date(NaN), new Map(), { toJSON: () => 1 }, 'cut \ud83d', { ['\udc00']: 1 }]
  for (const v of unsafe) {
    assert.equal(eventsJson(ev({ v })), undefined, String(typeof v === 'symbol' ? 'symbol' : v))
    assert.equal(eventsJson(ev([v])), undefined)
  }
  assert.notEqual(eventsJson(ev({ big: 2 ** 53 - 1, neg: -0, obj: Object.create(null) })), undefined)
  // Surrogate pairs and backslashes are exact.
  const fine = { s: 'smile \ud83d\ude00', path: 'C:\\u\\d', ['key \ud83d\ude00']: '\\' }
  assert.deepEqual(JSON.parse(eventsJson(ev(fine)))[0].args, fine)
})

test('writes become a JSON array of descriptors, SQL text as { kind: sql }', () => {
  const insert = { kind: 'insert', table: 't', values: { id: 'a', done: false, doc: { x: [1] } } }
  assert.deepEqual(JSON.parse(writesJson([insert, 'DELETE FROM t'])), [insert, { kind: 'sql', sql: 'DELETE FROM t' }])
  assert.equal(writesJson([insert]), JSON.stringify([insert]))
  assert.equal(writesJson([{ kind: 'insert', table: 't', values: { b: new Uint8Array([1]) } }]), undefined)
  assert.equal(writesJson([{ kind: 'delete', table: 't', where: { n: NaN } }]), undefined)
})

test("a run of the builders' plain inserts into one table with the same columns goes as insertRows", async () => {
  const { State } = await import('./schema.js')
  const t = State.SQLite.table({ name: 't', columns: { id: State.SQLite.text({ primaryKey: true }), n: State.SQLite.integer(), at: State.SQLite.datetime() } })
  const u = State.SQLite.table({ name: 'u', columns: { id: State.SQLite.text({ primaryKey: true }) } })
  const writes = [
    t.insert({ id: 'a', n: 1 }),
    t.insert({ id: 'b', n: 2, at: new Date(5) }), // other columns: a run of its own
    t.insert({ id: 'c', n: 3, at: new Date(6) }),
    t.insert({ id: 'd', n: null, at: undefined }), // undefined is left out: the columns of a and e
    t.insert({ id: 'e', n: 5 }),
    'DELETE FROM u',
    u.insert({ id: 'x' }),
    u.insert({ id: 'y' }),
    t.insert({ id: 'f', n: 6 }).onConflict('id', 'ignore'), // not a plain insert
    t.insert({ id: 'g', n: 7 }),
  ].map((w) => (typeof w === 'string' ? w : w.desc))
  assert.deepEqual(JSON.parse(writesJson(writes)), [
    { kind: 'insert', table: 't', values: { id: 'a', n: 1 } },
    { kind: 'insertRows', table: 't', columns: ['id', 'n', 'at'], rows: [['b', 2, 5], ['c', 3, 6]] },
    { kind: 'insertRows', table: 't', columns: ['id', 'n'], rows: [['d', null], ['e', 5]] },
    { kind: 'sql', sql: 'DELETE FROM u' },
    { kind: 'insertRows', table: 'u', columns: ['id'], rows: [['x'], ['y']] },
    { kind: 'insert', table: 't', values: { id: 'f', n: 6 }, onConflict: { target: ['id'], action: 'ignore' } },
    { kind: 'insert', table: 't', values: { id: 'g', n: 7 } },
  ])
  // a value without an exact JSON form: the descriptors themselves
  assert.equal(writesJson([t.insert({ id: 'a', n: 1 }).desc, t.insert({ id: 'cut \ud83d' }).desc]), undefined)
  assert.equal(writesJson([t.insert({ id: 'a', n: 1 }).desc, t.insert({ id: 'b', n: 2 }).desc, 'DELETE FROM u WHERE id = \'\udc00\'']), undefined)
  assert.equal(writesJson([u.insert({ id: '\udc00' }).desc]), undefined)
})
