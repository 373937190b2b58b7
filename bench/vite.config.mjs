// Vite config of the benchmark pages. One build per page variant, each into its
// own folder of bench/dist/ (so each variant's bundle is exactly what it ships):
//
//   livestore-rs       pages/livestore-rs/  in memory; 'livestore-rs' → ../pkg (LIVESTORE_PKG_DIR overrides)
//   livestore-memory   pages/livestore/     LiveStore 0.4, makeInMemoryAdapter
//   livestore-rs-opfs  pages/livestore-rs/  makePersistedAdapter (OPFS, leader worker livestore-rs.worker.js)
//   livestore-opfs     pages/livestore/     LiveStore 0.4, makePersistedAdapter (OPFS, workers)
//   livestore-rs-sync  pages/livestore-rs/  as livestore-rs-opfs, the leader synced through livestore-rs's server (W8)
//   livestore-sync     pages/livestore/     as livestore-opfs, the leader synced through @livestore/sync-cf (W8)
//
// `#adapter` is the page's adapter-memory.js, adapter-opfs.js or adapter-sync.js.
// The sync variants get their server's URL as import.meta.env.VITE_SYNC_URL
// (`syncUrl`: bench/run.mjs starts the servers before it builds).
//
// bench/run.mjs calls pageConfig(variant, { syncUrl }) with Vite's build(); by hand:
//   BENCH_PAGE=livestore-opfs npx vite build --config vite.config.mjs
//   BENCH_PAGE=livestore-sync VITE_SYNC_URL=ws://127.0.0.1:8787 npx vite build --config vite.config.mjs
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const repo = resolve(here, '..')

// Table order: each in-memory pair, then each OPFS pair, then the synced pair (livestore-rs first in a pair).
export const VARIANTS = ['livestore-rs', 'livestore-memory', 'livestore-rs-opfs', 'livestore-opfs', 'livestore-rs-sync', 'livestore-sync']
/** The variants that sync through a server (W8 only). */
export const SYNCED = ['livestore-rs-sync', 'livestore-sync']

export function pkgDir() {
  return process.env.LIVESTORE_PKG_DIR ? resolve(process.env.LIVESTORE_PKG_DIR) : join(repo, 'pkg')
}

export function pageConfig(variant, { syncUrl = process.env.VITE_SYNC_URL } = {}) {
  if (!VARIANTS.includes(variant)) throw new Error(`unknown bench page variant '${variant}' (known: ${VARIANTS.join(', ')})`)
  const isRs = variant.startsWith('livestore-rs')
  const synced = SYNCED.includes(variant)
  const persisted = variant.endsWith('-opfs')
  if (synced && !syncUrl) throw new Error(`the page variant '${variant}' needs its sync server's URL (syncUrl / VITE_SYNC_URL)`)
  const pkg = pkgDir()
  const pageDir = join(here, 'pages', isRs ? 'livestore-rs' : 'livestore')
  const adapter = synced ? 'adapter-sync.js' : persisted ? 'adapter-opfs.js' : 'adapter-memory.js'
  const alias = [{ find: /^#adapter$/, replacement: join(pageDir, adapter) }]
  if (isRs) {
    alias.push(
      { find: /^livestore-rs$/, replacement: join(pkg, 'index.js') },
      { find: /^livestore-rs\/worker$/, replacement: join(pkg, 'worker.js') },
      { find: /^livestore-rs\/(.*)$/, replacement: join(pkg, '$1') },
    )
  }
  return {
    configFile: false,
    root: pageDir,
    base: `/${variant}/`,
    logLevel: 'warn',
    clearScreen: false,
    resolve: { alias },
    define: synced ? { 'import.meta.env.VITE_SYNC_URL': JSON.stringify(syncUrl) } : {},
    // pkg/ is source to Vite: its wasm is loaded with new URL('…_bg.wasm', import.meta.url).
    optimizeDeps: { exclude: ['livestore-rs', '@livestore/wa-sqlite'] },
    worker: { format: 'es' },
    build: {
      outDir: join(here, 'dist', variant),
      emptyOutDir: true,
      target: 'esnext',
      sourcemap: false,
      reportCompressedSize: false,
      chunkSizeWarningLimit: 10_000,
      // keep the wasm as separate files (never inlined as base64)
      assetsInlineLimit: 0,
    },
  }
}

export default pageConfig(process.env.BENCH_PAGE ?? 'livestore-rs')
