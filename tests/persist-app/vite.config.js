// No import of 'vite' here: the tests run the workspace's vite on a copy of
// this folder that has only livestore-rs in its node_modules.
export default {
  base: './', // both builds are served side by side (/v1/, /v2/) on one origin, so one OPFS
  define: { __SCHEMA_VERSION__: JSON.stringify(Number(process.env.SCHEMA_VERSION ?? 1)) },
  build: { target: 'es2022' }, // minified, as a real app: page and worker bundles differ in their code
}
