import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    environment: "happy-dom",
    include: ["js/__tests__/**/*.test.js"],
    // CSS imports of the views are irrelevant to DOM assertions.
    css: false,
  },
});
