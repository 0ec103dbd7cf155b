/// <reference types="node" />
// Bundles every top-level js/*.js (one anywidget view per file) into seedance_widgets/static/.
// Each entry's CSS imports are emitted beside it as static/<name>.css, which the Python widget
// points its `_css` at. Adding a view = adding a top-level js/<name>.js; nothing to edit here.
// Entries build independently: one broken view does not stop the others from being written,
// but any failure makes the command exit non-zero (so the package build fails loudly).
import { readdirSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const jsDir = dirname(fileURLToPath(import.meta.url));
const outdir = join(jsDir, "..", "seedance_widgets", "static");
const watch = process.argv.includes("--watch");

/** @type {string[]} */
const entryPoints = readdirSync(jsDir)
  .filter((name) => name.endsWith(".js"))
  .sort()
  .map((name) => join(jsDir, name));

/**
 * @param {string} entry
 * @returns {import("esbuild").BuildOptions}
 */
function optionsFor(entry) {
  return {
    entryPoints: [entry],
    outdir,
    bundle: true,
    format: "esm",
    minify: !watch,
    sourcemap: watch ? "inline" : false,
    target: ["es2020"],
    logLevel: "info",
  };
}

if (watch) {
  for (const entry of entryPoints) {
    const ctx = await esbuild.context(optionsFor(entry));
    await ctx.watch();
  }
} else {
  const results = await Promise.allSettled(entryPoints.map((entry) => esbuild.build(optionsFor(entry))));
  const failed = entryPoints.filter((_, i) => results[i].status === "rejected").map((e) => basename(e));
  if (failed.length > 0) {
    console.error(`build failed for: ${failed.join(", ")}`);
    process.exit(1);
  }
}
