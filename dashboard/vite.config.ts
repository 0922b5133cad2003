import { defineConfig } from 'vitest/config';

// The dashboard is served by dozor-server from the same origin as /api/v1 (embedded in the
// binary), so the build has no base path and no inline scripts: the server's
// Content-Security-Policy allows scripts and styles from 'self' only.
export default defineConfig({
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    target: 'es2022',
    assetsInlineLimit: 0,
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: { '/api': process.env.DOZOR_API ?? 'http://127.0.0.1:8480' },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
