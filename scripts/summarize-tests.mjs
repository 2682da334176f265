// Totals the reports of every suite and prints the closing line "N passed, N failed".
// A suite whose report is missing counts as one failure, so a run that tested nothing shows.
import fs from "node:fs";

let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of process.argv.slice(2)) {
  if (file.includes("playwright") && !fs.existsSync("playwright.config.ts")) continue;
  if (!fs.existsSync(file)) {
    console.log(`summary: ${file} missing (suite did not run) -> counted as 1 failure`);
    failed += 1;
    continue;
  }
  const r = JSON.parse(fs.readFileSync(file, "utf8"));
  let p, f, s;
  if (r.stats && "expected" in r.stats) {
    // Playwright
    p = r.stats.expected + (r.stats.flaky ?? 0);
    f = r.stats.unexpected;
    s = r.stats.skipped;
  } else {
    // Vitest (jest-compatible JSON)
    p = r.numPassedTests;
    f = r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0) + (r.success === false && r.numFailedTests === 0 ? 1 : 0);
    s = r.numPendingTests + (r.numTodoTests ?? 0);
  }
  console.log(`summary: ${file}: ${p} passed, ${f} failed, ${s} skipped`);
  passed += p;
  failed += f;
  skipped += s;
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
