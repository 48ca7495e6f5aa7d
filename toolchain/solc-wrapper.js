#!/usr/bin/env node
// A `solc` executable backed by solc-js (the npm package `solc`), for forge and
// foundry-compilers, which only speak to a native-looking binary. It answers the
// two calls they make:
//   solc --version          -> "... Version: <semver>+commit.<hash>..." (last line)
//   solc --standard-json    -> Solidity standard JSON on stdin, output JSON on stdout
// Imports that are not inlined in the input are resolved against --base-path and
// --include-path, and read only when they lie inside one of those or an
// --allow-paths directory, as native solc does.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require(path.join(__dirname, '..', 'node_modules', 'solc'));

const args = process.argv.slice(2);

function fail(message) {
  process.stderr.write(`solc-wrapper: ${message}\n`);
  process.exit(1);
}

function optionValues(name) {
  const values = [];
  for (let i = 0; i < args.length; i += 1) {
    if (args[i] === name && i + 1 < args.length) values.push(args[i + 1]);
    else if (args[i].startsWith(`${name}=`)) values.push(args[i].slice(name.length + 1));
  }
  return values;
}

if (args.includes('--version') || args.includes('-v')) {
  process.stdout.write('solc, the solidity compiler commandline interface\n');
  process.stdout.write(`Version: ${solc.version()}\n`);
  process.exit(0);
}

if (!args.includes('--standard-json')) {
  fail(`only --version and --standard-json are supported (got: ${args.join(' ') || 'no arguments'})`);
}

const roots = [...optionValues('--base-path'), ...optionValues('--include-path')]
  .map((root) => path.resolve(root));
if (roots.length === 0) roots.push(process.cwd());
const allowed = [
  ...roots,
  ...optionValues('--allow-paths').flatMap((list) => list.split(',')).filter(Boolean).map((dir) => path.resolve(dir)),
];

function isAllowed(file) {
  return allowed.some((dir) => file === dir || file.startsWith(dir + path.sep));
}

function findImport(importPath) {
  for (const root of roots) {
    const candidate = path.resolve(root, importPath);
    if (isAllowed(candidate) && fs.existsSync(candidate)) {
      return { contents: fs.readFileSync(candidate, 'utf8') };
    }
  }
  return { error: `File not found under ${roots.join(', ')} (allowed: ${allowed.join(', ')}): ${importPath}` };
}

const chunks = [];
process.stdin.on('data', (chunk) => chunks.push(chunk));
process.stdin.on('end', () => {
  const input = Buffer.concat(chunks).toString('utf8');
  if (input.trim().length === 0) fail('empty standard JSON input on stdin');
  process.stdout.write(solc.compile(input, { import: findImport }));
});
