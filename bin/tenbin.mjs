#!/usr/bin/env node
// Launcher for the `tenbin` CLI: registers tsx (resolved from this repository, not the caller's
// working directory) and runs cli/main.ts in this process. Works by absolute path from any
// directory and as an npm bin (Node resolves the bin symlink to this file).
import { fileURLToPath } from "node:url";
import path from "node:path";
import { register } from "tsx/esm/api";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// Use the repository's tsconfig, never one found in the caller's working directory.
register({ tsconfig: path.join(repoRoot, "tsconfig.json") });
const { main } = await import(new URL("../cli/main.ts", import.meta.url).href);
process.exitCode = await main(process.argv.slice(2));
