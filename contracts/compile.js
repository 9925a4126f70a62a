// Compiles contracts/src/*.sol with the pinned solc (package.json) and writes
// contracts/artifacts/<Contract>.json: ABI, creation and runtime bytecode, and the
// compiler settings. `node compile.js --check` compiles again and fails (exit 1) if
// the committed artifacts differ, naming the contract.
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const here = __dirname;
const srcDir = path.join(here, "src");
const outDir = path.join(here, "artifacts");
const check = process.argv.includes("--check");

const sources = {};
for (const f of fs.readdirSync(srcDir).filter((f) => f.endsWith(".sol")).sort()) {
  sources[`src/${f}`] = { content: fs.readFileSync(path.join(srcDir, f), "utf8") };
}
const settings = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "cancun",
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};
const input = { language: "Solidity", sources, settings };

function findImport(p) {
  const file = path.join(here, "node_modules", p);
  if (fs.existsSync(file)) return { contents: fs.readFileSync(file, "utf8") };
  return { error: `not found: ${p} (run npm ci in contracts/)` };
}

const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length > 0) process.exit(1);

fs.mkdirSync(outDir, { recursive: true });
let stale = 0;
for (const [file, contracts] of Object.entries(output.contracts)) {
  // Our contracts only: the OpenZeppelin ones they import are compiled into them.
  if (!file.startsWith("src/")) continue;
  for (const [name, c] of Object.entries(contracts)) {
    // An interface (the bridge's) has no bytecode: nothing to deploy.
    if (c.evm.bytecode.object === "") continue;
    const artifact = {
      contract: name,
      source: file,
      compiler: `solc ${solc.version()}`,
      settings: { optimizer: settings.optimizer, evmVersion: settings.evmVersion },
      abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object,
      deployedBytecode: "0x" + c.evm.deployedBytecode.object,
    };
    const text = JSON.stringify(artifact, null, 2) + "\n";
    const target = path.join(outDir, `${name}.json`);
    if (check) {
      const committed = fs.existsSync(target) ? fs.readFileSync(target, "utf8") : "";
      if (committed !== text) {
        console.error(`contracts/artifacts/${name}.json does not match ${file}: run \`npm ci && node compile.js\` in contracts/`);
        stale += 1;
      }
    } else {
      fs.writeFileSync(target, text);
      console.log(`wrote artifacts/${name}.json`);
    }
  }
}
if (check) {
  if (stale > 0) process.exit(1);
  console.log("artifacts match the sources");
}
