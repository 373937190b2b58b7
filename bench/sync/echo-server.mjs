#!/usr/bin/env node
// A tiny WebSocket echo server on 127.0.0.1 for W8, without dependencies
// (node:http's `upgrade` + RFC 6455 framing, enough for small messages):
//
//   - every text or binary message comes back unchanged: the round trip a page
//     measures is the floor of any sync over a loopback WebSocket;
//   - the text message `clock` is answered with this process's clock
//     (performance.timeOrigin + performance.now(), ms since the epoch): each
//     page of W8 estimates the offset of its own clock from it (the sample of
//     least round trip), so that times taken in two browser processes (commit
//     on A, callback on B) are compared on one clock.
//
// Prints `{"port":…}` on stdout once listening; exits on SIGTERM/SIGINT or
// when its stdin closes (the runner died).
import { createServer } from 'node:http'
import { createHash } from 'node:crypto'

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
const clock = () => performance.timeOrigin + performance.now()

function frame(opcode, payload) {
  const n = payload.length
  const head = n < 126 ? Buffer.from([0x80 | opcode, n]) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10)
  if (n >= 126 && n < 65536) {
    head[0] = 0x80 | opcode
    head[1] = 126
    head.writeUInt16BE(n, 2)
  } else if (n >= 65536) {
    head[0] = 0x80 | opcode
    head[1] = 127
    head.writeBigUInt64BE(BigInt(n), 2)
  }
  return Buffer.concat([head, payload])
}

const server = createServer((req, res) => res.writeHead(426, { 'Content-Type': 'text/plain' }).end('WebSocket echo server\n'))
server.on('upgrade', (req, socket, head) => {
  const key = req.headers['sec-websocket-key']
  if (!key || String(req.headers.upgrade).toLowerCase() !== 'websocket') return socket.destroy()
  const accept = createHash('sha1').update(key + GUID).digest('base64')
  socket.setNoDelay(true)
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`)
  let buf = head?.length ? Buffer.from(head) : Buffer.alloc(0)
  let parts = null // fragments of a message in progress: { opcode, chunks }
  const send = (opcode, payload) => socket.writable && socket.write(frame(opcode, payload))
  const message = (opcode, payload) => {
    if (opcode === 1 && payload.length === 5 && payload.toString() === 'clock') send(1, Buffer.from(String(clock())))
    else send(opcode, payload)
  }
  socket.on('data', (d) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d
    for (;;) {
      if (buf.length < 2) return
      const fin = (buf[0] & 0x80) !== 0
      const opcode = buf[0] & 0x0f
      const masked = (buf[1] & 0x80) !== 0
      let len = buf[1] & 0x7f
      let off = 2
      if (len === 126) {
        if (buf.length < 4) return
        len = buf.readUInt16BE(2)
        off = 4
      } else if (len === 127) {
        if (buf.length < 10) return
        len = Number(buf.readBigUInt64BE(2))
        off = 10
      }
      const maskAt = off
      if (masked) off += 4
      if (buf.length < off + len) return
      const payload = Buffer.from(buf.subarray(off, off + len))
      if (masked) for (let i = 0; i < len; i++) payload[i] ^= buf[maskAt + (i & 3)]
      buf = buf.subarray(off + len)
      if (opcode === 0x8) {
        send(0x8, payload.subarray(0, 2))
        socket.end()
        return
      } else if (opcode === 0x9) send(0xa, payload)
      else if (opcode === 0xa) {
        // pong: nothing to do
      } else if (opcode === 0x0 && parts) {
        parts.chunks.push(payload)
        if (fin) {
          message(parts.opcode, Buffer.concat(parts.chunks))
          parts = null
        }
      } else if (opcode === 0x1 || opcode === 0x2) {
        if (fin) message(opcode, payload)
        else parts = { opcode, chunks: [payload] }
      } else {
        socket.destroy()
        return
      }
    }
  })
  socket.on('error', () => socket.destroy())
})

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n')
})
const stop = () => process.exit(0)
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
process.stdin.on('end', stop)
process.stdin.resume()
