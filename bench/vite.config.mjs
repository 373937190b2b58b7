// Vite config of the benchmark pages. One build per page variant, each into its
// own folder of bench/dist/ (so each variant's bundle is exactly what it ships):
//
//   livestore-rs       pages/livestore-rs/  'livestore-rs' → ../pkg (LIVESTORE_PKG_DIR overrides)
//   livestore-memory   pages/livestore/     LiveStore 0.4, makeInMemoryAdapter
//   livestore-opfs     pages/livestore/     LiveStore 0.4, makePersistedAdapter (OPFS, workers)
//
// bench/run.mjs calls pageConfig(variant) with Vite's build(); by hand:
//   BENCH_PAGE=livestore-opfs npx vite build --config vite.config.mjs
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const repo = resolve(here, '..')

export const VARIANTS = ['livestore-rs', 'livestore-memory', 'livestore-opfs']

export function pkgDir() {
  return process.env.LIVESTORE_PKG_DIR ? resolve(process.env.LIVESTORE_PKG_DIR) : join(repo, 'pkg')
}

export function pageConfig(variant) {
  if (!VARIANTS.includes(variant)) throw new Error(`unknown bench page variant '${variant}' (known: ${VARIANTS.join(', ')})`)
  const isRs = variant === 'livestore-rs'
  const pkg = pkgDir()
  const alias = isRs
    ? [
        { find: /^livestore-rs$/, replacement: join(pkg, 'index.js') },
        { find: /^livestore-rs\/(.*)$/, replacement: join(pkg, '$1') },
      ]
    : [{ find: /^#adapter$/, replacement: join(here, 'pages', 'livestore', variant === 'livestore-opfs' ? 'adapter-opfs.js' : 'adapter-memory.js') }]
  return {
    configFile: false,
    root: join(here, 'pages', isRs ? 'livestore-rs' : 'livestore'),
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
