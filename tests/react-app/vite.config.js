// No import of 'vite' here: the tests run the workspace's vite on a copy of this folder.
import react from '@vitejs/plugin-react'

export default {
  plugins: [react()],
  build: { target: 'es2022' },
}
