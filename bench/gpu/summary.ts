// One table from a bench/gpu run's results folder (webgpu.json, profile.json, torch.json): ours vs
// PyTorch CUDA on the same GPU, row by row (paired by the `key` bench/gpu/networks.ts gives each
// network), and the GPU speed goals, met or not. Bundled by pack.sh; runs here too:
//   pnpm exec tsx bench/gpu/summary.ts RESULTS_DIR
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spearman } from '../../services/profiler/src/stats.js';

interface Row { key?: string; name: string; error?: string; p50?: number; meanP50?: number; cvOfP50?: number }
interface Results { rows: Row[]; hardwareClass?: string; torch?: string; device?: string }

/** Goals: inference at batch 1 and a training step, ours / PyTorch; rank agreement; repeatability. */
export const GOALS = { inferenceRatio: 1.5, trainingRatio: 3, spearman: 0.9, cvOfP50: 0.02 } as const;

export function summarize(dir: string): string {
  const load = (f: string): Results | undefined => (existsSync(join(dir, f)) ? JSON.parse(readFileSync(join(dir, f), 'utf8')) as Results : undefined);
  const ours = load('webgpu.json');
  const profile = load('profile.json');
  const torch = load('torch.json');
  const peer = (key?: string) => torch?.rows.find((r) => r.key === key && !r.error);
  const lines: string[] = [];
  const out = (cells: string[]) => lines.push(`| ${cells.join(' | ')} |`);
  const ms = (v?: number) => (v === undefined ? '-' : `${v.toFixed(1)} ms`);
  const verdict = (ratio: number | undefined, goal: number) => (ratio === undefined ? 'not measured' : ratio <= goal ? 'met' : 'not met');
  out(['work', 'ours', 'PyTorch', 'ours / PyTorch', 'goal', 'met']);
  out(['---', '---', '---', '---', '---', '---']);

  for (const r of ours?.rows ?? []) {
    if (!r.key?.startsWith('train:')) continue;
    const p = peer(r.key);
    const ratio = p?.p50 !== undefined && r.p50 !== undefined ? r.p50 / p.p50 : undefined;
    const goal = p ? `<= ${GOALS.trainingRatio}x` : '-';
    out([r.name.replace(/, GN\+WS.*$/, ''), r.error ? `failed: ${r.error.slice(0, 80)}` : ms(r.p50), ms(p?.p50), ratio?.toFixed(1) ?? '-', goal, p ? verdict(ratio, GOALS.trainingRatio) : '-']);
  }
  const pairs: [number, number][] = [];
  for (const r of profile?.rows ?? []) {
    const p = peer(r.key);
    const ratio = p?.meanP50 !== undefined && r.meanP50 !== undefined ? r.meanP50 / p.meanP50 : undefined;
    if (ratio !== undefined) pairs.push([r.meanP50!, p!.meanP50!]);
    out([`${r.name} inference, batch 1 (p50)`, r.error ? `failed: ${r.error.slice(0, 80)}` : ms(r.meanP50), ms(p?.meanP50), ratio?.toFixed(2) ?? '-', `<= ${GOALS.inferenceRatio}x`, verdict(ratio, GOALS.inferenceRatio)]);
  }
  const networks = profile?.rows.length ?? 0;
  const rho = pairs.length >= 3 ? spearman(pairs.map((p) => p[0]), pairs.map((p) => p[1])) : undefined;
  out([`Spearman, ours vs PyTorch, ${pairs.length} of ${networks} networks`, '-', '-', rho?.toFixed(3) ?? '-', `>= ${GOALS.spearman}`,
    rho === undefined ? 'not measured' : rho >= GOALS.spearman ? (pairs.length === 10 ? 'met' : `met on ${pairs.length} of 10`) : 'not met']);
  for (const r of profile?.rows ?? []) {
    if (r.cvOfP50 === undefined) continue;
    const p = peer(r.key);
    out([`${r.name}: CV of p50 over ${(r as { p50s?: number[] }).p50s?.length ?? '?'} profiles`, `${(100 * r.cvOfP50).toFixed(2)}%`,
      p?.cvOfP50 !== undefined ? `${(100 * p.cvOfP50).toFixed(2)}%` : '-', '-', `< ${100 * GOALS.cvOfP50}%`, r.cvOfP50 < GOALS.cvOfP50 ? 'met' : 'not met']);
  }
  const head = `${ours?.hardwareClass ?? profile?.hardwareClass ?? 'no webgpu results'}${torch ? `; PyTorch ${torch.torch} on ${torch.device}` : '; no PyTorch peer'}`;
  return `${head}\n${lines.join('\n')}`;
}

if (process.argv[1] && /summary\.(ts|mjs)$/.test(process.argv[1])) console.log(summarize(process.argv[2] ?? '.'));
