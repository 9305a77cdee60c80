/// <reference types="vitest/config" />
// The web UI. `npm run dev` serves it with hot reload and forwards /api to
// a running gateway (GATEWAY_URL, default http://127.0.0.1:8080, as
// `make run` starts it); `npm run build` writes dist/, which the gateway
// serves (STATIC_DIR).
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

const gateway = process.env.GATEWAY_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  server: {
    port: 5173,
    proxy: {
      // Server-sent events pass through the proxy unbuffered.
      "/api": { target: gateway, changeOrigin: false },
      "/docs": { target: gateway },
      "/openapi.json": { target: gateway },
    },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 900,
    rollupOptions: {
      output: {
        manualChunks: {
          react: ["react", "react-dom", "react-dom/client", "react-router"],
        },
      },
    },
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    css: false,
    restoreMocks: true,
    testTimeout: 20_000,
  },
});
