#!/usr/bin/env node
// Launcher for the `tenbin` CLI (cli/main.ts). Works by absolute path from any directory and as
// an npm bin (Node resolves the bin symlink to this file, so paths below are the repository's).
//
// Fast path: the CLI's own TypeScript (cli/ and the lib/ schemas it shares with the server) is
// bundled once with esbuild (tsx's own copy) into node_modules/.cache/tenbin-cli/ and run by
// plain Node; the bundle records its inputs' mtimes and is rebuilt when any of them changes.
// That costs ~0.35 s of CPU per run instead of ~1 s through tsx's loader. If the bundle cannot
// be built or written, the CLI runs through tsx instead.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const entry = path.join(repoRoot, "cli", "main.ts");
const bundle = path.join(repoRoot, "node_modules", ".cache", "tenbin-cli", "main.mjs");
const MARK = "// tenbin-cli inputs: ";

/** True when the bundle exists and none of the files it was built from changed since. */
function bundleIsFresh() {
  let head;
  try {
    const fd = fs.openSync(bundle, "r");
    try {
      const buf = Buffer.alloc(16_384);
      head = buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, 0)).toString("utf8").split("\n", 1)[0];
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return false;
  }
  if (!head?.startsWith(MARK)) return false;
  try {
    const inputs = JSON.parse(head.slice(MARK.length));
    return Object.entries(inputs).every(([file, mtime]) => fs.statSync(path.join(repoRoot, file)).mtimeMs === mtime);
  } catch {
    return false;
  }
}

async function buildBundle() {
  const require = createRequire(import.meta.url);
  const esbuild = createRequire(require.resolve("tsx/package.json"))("esbuild");
  const result = await esbuild.build({
    entryPoints: [entry],
    absWorkingDir: repoRoot,
    bundle: true,
    packages: "external", // dependencies load from node_modules as usual
    platform: "node",
    format: "esm",
    target: "node20",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const inputs = Object.fromEntries(Object.keys(result.metafile.inputs).map((f) => [f, fs.statSync(path.join(repoRoot, f)).mtimeMs]));
  const code = MARK + JSON.stringify(inputs) + "\n" + result.outputFiles[0].text;
  // Write then rename: concurrent first runs never see a half-written bundle.
  fs.mkdirSync(path.dirname(bundle), { recursive: true });
  const tmp = `${bundle}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, code);
  fs.renameSync(tmp, bundle);
}

async function loadMain() {
  try {
    if (!bundleIsFresh()) await buildBundle();
    return (await import(pathToFileURL(bundle).href)).main;
  } catch {
    // No esbuild or a read-only install: run the TypeScript through tsx's loader.
    const { register } = await import("tsx/esm/api");
    register({ tsconfig: path.join(repoRoot, "tsconfig.json") });
    return (await import(pathToFileURL(entry).href)).main;
  }
}

const main = await loadMain();
process.exitCode = await main(process.argv.slice(2));
