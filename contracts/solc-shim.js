#!/usr/bin/env node
// A `solc` command for py-solc-x backed by solc-js from npm (pinned in package.json):
// answers --version, and --standard-json with the compiler's JSON on stdout and nothing else.
// Imports resolve from this folder and its node_modules (OpenZeppelin).
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const args = process.argv.slice(2);
if (args.includes("--version")) {
  process.stdout.write("solc, the solidity compiler commandline interface\nVersion: " + solc.version() + "\n");
  process.exit(0);
}
if (!args.includes("--standard-json")) {
  process.stderr.write("this shim understands only --version and --standard-json\n");
  process.exit(2);
}
const roots = [__dirname, path.join(__dirname, "node_modules")];
function findImports(importPath) {
  for (const root of roots) {
    const full = path.resolve(root, importPath);
    if (!full.startsWith(root + path.sep)) continue; // never read outside the contracts folder
    if (fs.existsSync(full)) return { contents: fs.readFileSync(full, "utf8") };
  }
  return { error: "not found: " + importPath };
}
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  process.stdout.write(solc.compile(input, { import: findImports }));
});
