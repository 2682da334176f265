#!/usr/bin/env node
// Launcher for the node agent `tenbin-agent`: registers tsx (resolved from this repository, not
// the caller's working directory) and runs agent/main.ts in this process, from any directory.
import { fileURLToPath } from "node:url";
import path from "node:path";
import { register } from "tsx/esm/api";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// Use the repository's tsconfig, never one found in the caller's working directory.
register({ tsconfig: path.join(repoRoot, "tsconfig.json") });
const { main } = await import(new URL("../agent/main.ts", import.meta.url).href);
const code = await main(process.argv.slice(2));
// Exit explicitly: the data plane lives in the kernel; nothing of ours must keep running.
process.exit(code);
