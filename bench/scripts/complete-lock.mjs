// Completes bench/package-lock.json after an `npm install`: the npm registry
// reachable here answers 404 for some optional platform packages (e.g.
// @rollup/rollup-darwin-arm64, @msgpackr-extract/msgpackr-extract-win32-x64),
// so `npm install` leaves them out of the lockfile and `npm ci` then rejects the
// lockfile as out of sync. This adds an entry for each missing optional
// dependency whose name says it is for another platform, with the `os`/`cpu`
// that npm checks: `npm ci` skips such entries on this platform without
// fetching them. Run it after every `npm install` in bench/:
//   npm install --no-audit --no-fund && node scripts/complete-lock.mjs
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const lockPath = join(dirname(fileURLToPath(import.meta.url)), '..', 'package-lock.json')
const lock = JSON.parse(readFileSync(lockPath, 'utf8'))
const pkgs = lock.packages

const OS = ['darwin', 'win32', 'linux', 'android', 'freebsd', 'openbsd', 'netbsd', 'sunos', 'aix', 'openharmony']
const CPU = ['x64', 'arm64', 'arm', 'ia32', 'loong64', 'ppc64', 's390x', 'riscv64', 'mips64el', 'wasm32']

function platformOf(name) {
  const parts = name.split('/').pop().split('-')
  const os = parts.find((p) => OS.includes(p))
  const cpu = parts.find((p) => CPU.includes(p)) ?? (parts.includes('universal') ? 'arm64' : undefined)
  if (!os || !cpu) return undefined
  const libc = parts.includes('musl') || parts.includes('musleabihf') ? 'musl' : parts.includes('gnu') || parts.includes('gnueabihf') || parts.includes('glibc') ? 'glibc' : undefined
  return { os, cpu, libc }
}

// Where npm would place a dependency `dep` of the package at `at`: nested first, then up.
function resolveLocation(at, dep) {
  let base = at
  for (;;) {
    const loc = (base ? base + '/' : '') + 'node_modules/' + dep
    if (pkgs[loc]) return loc
    if (!base) return undefined
    const i = base.lastIndexOf('/node_modules/')
    base = i < 0 ? '' : base.slice(0, i)
  }
}

let added = 0
for (const [loc, meta] of Object.entries({ ...pkgs })) {
  for (const [dep, range] of Object.entries(meta.optionalDependencies ?? {})) {
    if (resolveLocation(loc, dep)) continue
    const p = platformOf(dep)
    if (!p) {
      console.warn(`complete-lock: ${dep} (optional, of ${loc || 'root'}) is missing and its platform is unknown; left out`)
      continue
    }
    if (p.os === process.platform && p.cpu === process.arch && p.libc !== 'musl') {
      console.warn(`complete-lock: ${dep} is for this platform but missing from the lockfile; left out`)
      continue
    }
    const entry = { version: range.replace(/^[\^~=]/, ''), optional: true, os: [p.os], cpu: [p.cpu] }
    if (p.libc) entry.libc = [p.libc]
    for (const flag of ['dev', 'peer', 'devOptional']) if (meta[flag]) entry[flag] = true
    pkgs[(loc ? loc + '/' : '') + 'node_modules/' + dep] = entry
    added++
  }
}

// npm keeps package entries sorted by location.
lock.packages = Object.fromEntries(Object.entries(pkgs).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)))
writeFileSync(lockPath, JSON.stringify(lock, null, 2) + '\n')
console.log(`complete-lock: added ${added} optional platform entr${added === 1 ? 'y' : 'ies'}`)
