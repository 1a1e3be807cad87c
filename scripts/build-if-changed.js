#!/usr/bin/env node
/**
 * Runs the server build (`tsc -p tsconfig.build.json`) only when its output is missing or
 * older than a source it is made from, so `npm run token` and `npm run audit` start in
 * about a second once built. The check is by modification time, like make: what tsc reads
 * (src/, bench/, the tsconfigs, package.json, the lock file) against a stamp written after
 * the last successful build. `npm run build` (server and web app) always builds
 * (`--always`), and leaves the stamp too.
 */
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync, statSync, writeFileSync } = require('node:fs');
const path = require('node:path');

const root = path.resolve(path.dirname(require.resolve('./build-if-changed.js')), '..');
const stamp = path.join(root, 'dist', '.server-build-stamp');
const inputs = ['src', 'bench', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json'];

/** The newest modification time under `entry` (a file or a directory, recursively). */
function newest(entry) {
  if (!existsSync(entry)) return 0;
  const stat = statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = stat.mtimeMs; // a deleted file shows as its directory's change
  for (const name of readdirSync(entry)) latest = Math.max(latest, newest(path.join(entry, name)));
  return latest;
}

const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
const changed = process.argv.includes('--always') || inputs.some((input) => newest(path.join(root, input)) > built);
if (changed) {
  if (!process.argv.includes('--always')) process.stderr.write('[build] sources changed since the last build: compiling the server (tsc)…\n');
  const tsc = require.resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
}
