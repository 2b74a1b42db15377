/* global process, console */
// One table from a bench/gpu run's results folder (webgpu.json, profile.json, torch.json): ours vs
// PyTorch CUDA on the same GPU, and the GPU speed goals, met or not. Plain Node, no dependencies:
// it runs from the bundle on the GPU host and here.
//   node bench/gpu/summary.mjs RESULTS_DIR
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? '.';
const load = (f) => (existsSync(join(dir, f)) ? JSON.parse(readFileSync(join(dir, f), 'utf8')) : undefined);
const ours = load('webgpu.json');
const profile = load('profile.json');
const torch = load('torch.json');
const network = (name) => name.replace(/ (train step|\d+x\d+|batch).*$/, '');
const peer = (net, kind) => torch?.rows.find((r) => network(r.name) === net && r.name.includes(kind));

const lines = [];
const out = (cells) => lines.push(`| ${cells.join(' | ')} |`);
out(['work', 'ours', 'PyTorch', 'ours / PyTorch', 'goal', 'met']);
out(['---', '---', '---', '---', '---', '---']);
const verdict = (ratio, goal) => (ratio === undefined ? 'not measured' : ratio <= goal ? 'met' : 'not met');
const ms = (v) => (v === undefined ? '-' : `${v.toFixed(1)} ms`);

for (const r of ours?.rows ?? []) {
  if (!r.name.includes('train step') || r.error) continue;
  const net = network(r.name);
  const p = peer(net, 'train step');
  const ratio = p ? r.p50 / p.p50 : undefined;
  const goal = /^(RetinaNet|Faster)/.test(net) ? 3 : undefined;
  out([r.name.replace(/, GN\+WS.*$/, ''), ms(r.p50), ms(p?.p50), ratio ? ratio.toFixed(1) : '-', goal ? `<= ${goal}x` : '-', goal ? verdict(ratio, goal) : '-']);
}
for (const r of profile?.rows ?? []) {
  const net = network(r.name);
  const p = peer(net, 'profile');
  const ratio = p ? r.meanP50 / p.meanP50 : undefined;
  const big = /1344x800/.test(r.name);
  out([`${r.name.replace(' batch 1', '')} inference, batch 1 (mean p50)`, ms(r.meanP50), ms(p?.meanP50), ratio ? ratio.toFixed(1) : '-', big ? '<= 1.5x' : '-', big ? verdict(ratio, 1.5) : '-']);
}
const cvs = (profile?.rows ?? []).map((r) => ({ name: network(r.name), cv: r.cvOfP50 }));
for (const c of cvs) out([`${c.name}: CV of p50 over 5 profiles`, `${(100 * c.cv).toFixed(2)}%`, '-', '-', '< 2%', c.cv < 0.02 ? 'met' : 'not met']);
out(['Spearman, ours vs PyTorch, 10 networks', '-', '-', '-', '>= 0.9', 'not measured (the 7 classification backbones are not in the bench yet)']);
console.log(`${ours?.hardwareClass ?? 'no webgpu results'}${torch ? `; PyTorch ${torch.torch} on ${torch.device}` : '; no PyTorch peer'}`);
console.log(lines.join('\n'));
