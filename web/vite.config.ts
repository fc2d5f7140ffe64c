import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` serves the app on :5173 (the storefront client's redirect origin) and forwards /config.json to
// a running `ec dev`, whose storefront port must then be another: `WEB_ADDR=127.0.0.1:5174 ec dev`.
export default defineConfig({
  plugins: [react()],
  server: {
    host: "127.0.0.1",
    port: 5173,
    strictPort: true,
    proxy: { "/config.json": "http://127.0.0.1:5174" },
  },
  // Vite warns about a chunk over 500 kB before compression; what counts is what a first visit downloads
  // compressed, held under 250 kB gzipped by the browser test (tests/storefront.mjs).
  // Two pages: the app, and the page a silent sign-in ends on in a hidden frame (src/silent.ts).
  build: {
    target: "es2022",
    chunkSizeWarningLimit: 800,
    rollupOptions: { input: { app: "index.html", silent: "silent-callback.html" } },
  },
});
