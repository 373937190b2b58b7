// The shipped TypeScript types: the README example (fixtures/readme-example.ts)
// must type-check in strict mode against pkg/'s .d.ts, resolved as a bundler
// resolves the package (package.json "types"/"exports").
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'

import { PKG_DIR, REPO_ROOT, assertPkgBuilt, run } from './helpers.mjs'

test('the README example type-checks against the shipped .d.ts', { timeout: 120_000 }, async () => {
  assertPkgBuilt()
  const pkgJson = JSON.parse(await readFile(join(PKG_DIR, 'package.json'), 'utf8'))
  const declared = pkgJson.types ?? pkgJson.typings ?? pkgJson.exports?.['.']?.types
  assert.ok(
    declared || existsSync(join(PKG_DIR, 'index.d.ts')),
    'pkg/package.json declares no "types" and pkg/index.d.ts is missing: the package ships no TypeScript types',
  )

  const dir = await mkdtemp(join(tmpdir(), 'livestore-rs-types-'))
  try {
    await writeFile(
      join(dir, 'tsconfig.json'),
      JSON.stringify(
        {
          compilerOptions: {
            strict: true,
            noEmit: true,
            target: 'es2022',
            module: 'esnext',
            moduleResolution: 'bundler',
            lib: ['es2022', 'dom'],
            types: [],
            paths: { 'livestore-rs': [PKG_DIR] },
          },
          files: [join(REPO_ROOT, 'tests', 'e2e', 'fixtures', 'readme-example.ts')],
        },
        null,
        2,
      ),
    )
    const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
    await run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json'), '--pretty', 'false'], { cwd: dir })
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
