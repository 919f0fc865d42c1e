// Builds the console into console/dist, which the control plane serves at `/` (src/control/console.ts).
// No framework plugin: Vite's built-in JSX transform with Preact's automatic runtime is all we need, which
// keeps Babel out of the install.
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  publicDir: false,
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 400,
  },
});
