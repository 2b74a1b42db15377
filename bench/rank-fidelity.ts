// Rank fidelity: does the demo's per-candidate training (services/trainer DEMO_FIDELITY) rank
// detectors like a 10x longer training? Trains each architecture below at the demo fidelity for
// RANK_FACTOR x the demo's steps, scores it on the validation split at the demo budget and along the
// way (the schedule is warm-up then constant, so the model at the demo step IS the demo run's
// model), and prints the Spearman correlation between the AP at the demo budget and the AP at the
// long budget. Budgets are steps, so a shared lock is enough:
//
//   flock -s /tmp/sm-nas-cpu.lock pnpm exec tsx bench/rank-fidelity.ts
//
// Environment: RANK_FACTOR [10]; RANK_ARCHS (comma-separated indices into ARCHS, default all);
// RANK_OUT [$TMPDIR/sm-nas-rank-fidelity.json] results, kept between runs: architectures already there
// with the same fidelity are not trained again (delete the file to start over); RANK_STEPS
// overrides the demo's steps (with RANK_FACTOR, to try other budgets), RANK_LR its learning rate.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCanonical, toCanonical } from '@sm-nas/arch';
import { DEMO_FIDELITY, runTrainJob, TRAIN_DEFAULTS } from '@sm-nas/trainer';

/** Different backbones (basic, bottleneck, grouped, inverted residual), necks (FPN levels, C4), input sizes and widths. */
const ARCHS = [
  'resnet18:64:11-21-21-21/fpn:3-6:256/none/retinanet:256/512x512',
  'mobilenet_v2:64:21-211-2111211-2112/fpn:3-6:256/none/retinanet:256/512x512',
  'resnet50:64:111-2111-211111-211/fpn:3-6:256/none/retinanet:256/512x512',
  'resnet18:64:11-21-21-21/c4/none/retinanet:256/512x512',
  'resnet18:32:11-21-21-21/fpn:3-6:64/none/retinanet:64/512x512',
  'resnet18:64:11-21-21-21/fpn:3-6:256/none/retinanet:256/800x600',
  'resnet18:64:11-21-21-21/fpn:4-6:256/none/retinanet:256/512x512',
  'resnet34:64:111-2111-211111-211/fpn:3-6:128/none/retinanet:128/512x512',
  'resnext50_32x4d:64:111-2111-211111-211/fpn:3-6:256/none/retinanet:256/512x512',
];

const factor = Number(process.env.RANK_FACTOR ?? 10);
const demoSteps = Number(process.env.RANK_STEPS ?? DEMO_FIDELITY.maxSteps);
const longSteps = factor * demoSteps;
const picked = process.env.RANK_ARCHS ? process.env.RANK_ARCHS.split(',').map(Number) : ARCHS.map((_, i) => i);
const outPath = process.env.RANK_OUT ?? join(tmpdir(), 'sm-nas-rank-fidelity.json');
/** Curve points: the demo budget and a few more up to the long budget. */
const curveSteps = [...new Set([demoSteps / 2, demoSteps, 2 * demoSteps, 5 * demoSteps, longSteps].map(Math.round))]
  .filter((s) => s > 0 && s <= longSteps)
  .sort((a, b) => a - b);

interface Point { steps: number; trainSeconds: number; ap: number; ap50: number }
interface Row { arch: string; fidelityKey: string; curve: Point[]; secondsPerStep: number }

const fidelity = { ...DEMO_FIDELITY, learningRate: Number(process.env.RANK_LR ?? DEMO_FIDELITY.learningRate), maxSteps: demoSteps };
const fidelityKey = JSON.stringify({ ...fidelity, longSteps });
const saved: Row[] = existsSync(outPath) ? (JSON.parse(readFileSync(outPath, 'utf8')) as Row[]) : [];
const rows = saved.filter((r) => r.fidelityKey === fidelityKey);

/** Spearman's rho with average ranks for ties (Pearson correlation of the ranks). */
export function spearman(x: readonly number[], y: readonly number[]): number {
  const ranks = (v: readonly number[]): number[] => {
    const order = v.map((value, i) => ({ value, i })).sort((a, b) => a.value - b.value);
    const r = new Array<number>(v.length);
    for (let i = 0; i < order.length; ) {
      let j = i;
      while (j + 1 < order.length && order[j + 1]!.value === order[i]!.value) j++;
      for (let k = i; k <= j; k++) r[order[k]!.i] = (i + j) / 2 + 1;
      i = j + 1;
    }
    return r;
  };
  const rx = ranks(x);
  const ry = ranks(y);
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const mx = mean(rx);
  const my = mean(ry);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < rx.length; i++) {
    sxy += (rx[i]! - mx) * (ry[i]! - my);
    sxx += (rx[i]! - mx) ** 2;
    syy += (ry[i]! - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

async function train(canonical: string): Promise<Row> {
  const arch = parseCanonical(canonical);
  const f = fidelity;
  const curve: Point[] = [];
  const pending = [...curveSteps];
  for await (const e of runTrainJob({
    jobId: 'rank',
    arch,
    dataset: f.dataset,
    init: 'scratch',
    batchSize: f.batchSize,
    learningRate: f.learningRate,
    weightDecay: f.weightDecay,
    // The demo run's warm-up (a fifth of its budget), also in the long run, so the two share their first steps.
    warmupSteps: Math.min(TRAIN_DEFAULTS.warmupSteps, Math.ceil(demoSteps / 5)),
    seed: 0,
    evalEverySteps: 0,
    evalAtSteps: curveSteps.slice(0, -1),
    inputScale: f.inputScale,
    widthMultiplier: f.widthMultiplier,
    maxSteps: longSteps,
    maxSeconds: 0,
  })) {
    if (e.kind === 'progress' && e.validation) {
      pending.shift();
      curve.push({ steps: e.step, trainSeconds: e.trainSeconds, ap: e.validation.ap, ap50: e.validation.ap50 });
      console.log(`  step ${e.step} (${e.trainSeconds.toFixed(0)}s): AP ${e.validation.ap.toFixed(4)} AP50 ${e.validation.ap50.toFixed(4)}  loss ${e.loss.toFixed(3)}`);
    } else if (e.kind === 'result') {
      if (e.status !== 'succeeded') throw new Error(`${canonical}: ${e.status}: ${e.failureReason}`);
      curve.push({ steps: e.steps, trainSeconds: e.trainSeconds, ap: e.metrics!.ap, ap50: e.metrics!.ap50 });
      console.log(`  step ${e.steps} (${e.trainSeconds.toFixed(0)}s): AP ${e.metrics!.ap.toFixed(4)} AP50 ${e.metrics!.ap50.toFixed(4)}`);
      return { arch: canonical, fidelityKey, curve, secondsPerStep: e.trainSeconds / e.steps };
    }
  }
  throw new Error('no result');
}

async function main(): Promise<void> {
  console.log(`rank fidelity: demo ${demoSteps} steps vs ${longSteps} steps; fidelity ${JSON.stringify(fidelity)}`);
  for (const i of picked) {
    const canonical = toCanonical(parseCanonical(ARCHS[i]!));
    if (rows.some((r) => r.arch === canonical)) continue;
    console.log(`[${i}] ${canonical}`);
    rows.push(await train(canonical));
    const others = saved.filter((r) => r.fidelityKey !== fidelityKey);
    writeFileSync(outPath, JSON.stringify([...others, ...rows], null, 1));
  }
  const at = (r: Row, steps: number) => r.curve.find((p) => p.steps === steps)!;
  console.log(`\n| architecture | s/step | ${curveSteps.map((s) => `AP@${s}`).join(' | ')} | AP50@${demoSteps} | AP50@${longSteps} |`);
  console.log(`|---|---|${curveSteps.map(() => '---|').join('')}---|---|`);
  for (const r of rows) {
    console.log(`| ${r.arch} | ${r.secondsPerStep.toFixed(2)} | ${curveSteps.map((s) => at(r, s)?.ap.toFixed(4) ?? '-').join(' | ')} | ` +
      `${at(r, demoSteps).ap50.toFixed(4)} | ${at(r, longSteps).ap50.toFixed(4)} |`);
  }
  if (rows.length >= 2) {
    const rho = spearman(rows.map((r) => at(r, demoSteps).ap), rows.map((r) => at(r, longSteps).ap));
    const rho50 = spearman(rows.map((r) => at(r, demoSteps).ap50), rows.map((r) => at(r, longSteps).ap50));
    console.log(`\nSpearman over ${rows.length} architectures, demo (${demoSteps} steps) vs ${factor}x (${longSteps} steps): ` +
      `AP ${rho.toFixed(3)}, AP50 ${rho50.toFixed(3)} (goal >= 0.8)`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  },
);
