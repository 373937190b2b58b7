// Vite config of the benchmark pages. One build per page variant, each into its
// own folder of bench/dist/ (so each variant's bundle is exactly what it ships):
//
//   livestore-rs       pages/livestore-rs/  in memory; 'livestore-rs' → ../pkg (LIVESTORE_PKG_DIR overrides)
//   livestore-memory   pages/livestore/     LiveStore 0.4, makeInMemoryAdapter
//   livestore-rs-opfs  pages/livestore-rs/  makePersistedAdapter (OPFS, leader worker livestore-rs.worker.js)
//   livestore-opfs     pages/livestore/     LiveStore 0.4, makePersistedAdapter (OPFS, workers)
//
// `#adapter` is the page's adapter-memory.js or adapter-opfs.js.
//
// bench/run.mjs calls pageConfig(variant) with Vite's build(); by hand:
//   BENCH_PAGE=livestore-opfs npx vite build --config vite.config.mjs
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const repo = resolve(here, '..')

// Table order: each in-memory pair, then each OPFS pair (livestore-rs first in a pair).
export const VARIANTS = ['livestore-rs', 'livestore-memory', 'livestore-rs-opfs', 'livestore-opfs']

export function pkgDir() {
  return process.env.LIVESTORE_PKG_DIR ? resolve(process.env.LIVESTORE_PKG_DIR) : join(repo, 'pkg')
}

export function pageConfig(variant) {
  if (!VARIANTS.includes(variant)) throw new Error(`unknown bench page variant '${variant}' (known: ${VARIANTS.join(', ')})`)
  const isRs = variant.startsWith('livestore-rs')
  const persisted = variant.endsWith('-opfs')
  const pkg = pkgDir()
  const pageDir = join(here, 'pages', isRs ? 'livestore-rs' : 'livestore')
  const alias = [{ find: /^#adapter$/, replacement: join(pageDir, persisted ? 'adapter-opfs.js' : 'adapter-memory.js') }]
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
