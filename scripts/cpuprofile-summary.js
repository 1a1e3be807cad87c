#!/usr/bin/env node
/**
 * Where a server's CPU went, per message: a `.cpuprofile` (BENCH_SERVER_NODE_ARGS='--cpu-prof
 * --cpu-prof-dir=…') summed by module and by function (self time), over the last `--window`
 * seconds before the process stopped (the load step; startup and room setup left out), and
 * divided by `--messages` (the step's acked count). With a second profile, the two are set
 * side by side, largest difference first (functions matched by name and file, since lines
 * move between builds), so two builds run at the same rate compare function by function.
 *
 *   node scripts/cpuprofile-summary.js a.cpuprofile --messages 1200 [--window 20.5] [--top 40]
 *   node scripts/cpuprofile-summary.js a.cpuprofile b.cpuprofile --messages 1200 [--messages-b 1180]
 *
 * Absolute times in a profile taken on a busy machine are inflated by preemption (samples
 * are wall-clock); the shares hold. Counted figures (statements, messages) are the ones to
 * compare across runs.
 */
const { readFileSync } = require('node:fs');
const { parseArgs } = require('node:util');

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    messages: { type: 'string', default: '1' },
    'messages-b': { type: 'string' },
    window: { type: 'string', default: '20.5' },
    top: { type: 'string', default: '40' },
  },
});
if (positionals.length < 1 || positionals.length > 2) {
  console.error('usage: cpuprofile-summary.js a.cpuprofile [b.cpuprofile] --messages N [--messages-b N] [--window s] [--top n]');
  process.exit(2);
}

/** The module a script URL belongs to: a package, a Node built-in, or a file of the build. */
function moduleOf(url) {
  if (url === '') return '(native)';
  const packages = url.lastIndexOf('node_modules/');
  if (packages >= 0) {
    const [scope, name] = url.slice(packages + 'node_modules/'.length).split('/');
    return `npm:${scope.startsWith('@') ? `${scope}/${name}` : scope}`;
  }
  const dist = url.indexOf('/dist/');
  return dist >= 0 ? url.slice(dist + '/dist/'.length) : url;
}

/** Self time (µs per message) by module and by function, over the last `windowS` seconds. */
function summarise(file, messages, windowS) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const times = [];
  let t = profile.startTime;
  for (const delta of profile.timeDeltas) times.push((t += delta));
  const end = times.at(-1) ?? profile.startTime;
  const from = end - windowS * 1e6;
  const modules = new Map();
  const functions = new Map();
  let busy = 0;
  for (let i = 0; i + 1 < times.length; i += 1) {
    if (times[i] < from) continue;
    const frame = nodes.get(profile.samples[i]).callFrame;
    if (frame.functionName === '(idle)' || frame.functionName === '(program)') continue;
    const weight = times[i + 1] - times[i];
    const module = frame.functionName.startsWith('(') ? frame.functionName : moduleOf(frame.url);
    const fn = `${frame.functionName || '(anonymous)'} ${moduleOf(frame.url)}`;
    modules.set(module, (modules.get(module) ?? 0) + weight / messages);
    functions.set(fn, (functions.get(fn) ?? 0) + weight / messages);
    busy += weight / messages;
  }
  return { file, busy, modules, functions };
}

const top = Number(values.top);
const window = Number(values.window);
const a = summarise(positionals[0], Number(values.messages), window);
const b = positionals[1] === undefined ? null : summarise(positionals[1], Number(values['messages-b'] ?? values.messages), window);
const cell = (us) => us.toFixed(1).padStart(9);
const share = (us, s) => `${((100 * us) / s.busy).toFixed(1).padStart(5)} %`;

for (const kind of ['modules', 'functions']) {
  if (b === null) {
    console.log(`\n${a.file}: ${a.busy.toFixed(0)} µs of CPU samples per message; by ${kind} (self, µs per message, share):`);
    for (const [key, us] of [...a[kind]].sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(`${cell(us)} ${share(us, a)}  ${key}`);
    continue;
  }
  console.log(`\na: ${a.file} (${a.busy.toFixed(0)} µs/message)\nb: ${b.file} (${b.busy.toFixed(0)} µs/message)`);
  console.log(`by ${kind}, self µs per message:        a         b       b-a   share a  share b`);
  const keys = new Set([...a[kind].keys(), ...b[kind].keys()]);
  const rows = [...keys].map((key) => [key, a[kind].get(key) ?? 0, b[kind].get(key) ?? 0]);
  rows.sort((x, y) => Math.abs(y[2] - y[1]) - Math.abs(x[2] - x[1]));
  for (const [key, x, y] of rows.slice(0, top)) console.log(`${cell(x)} ${cell(y)} ${cell(y - x)} ${share(x, a)} ${share(y, b)}  ${key}`);
}
