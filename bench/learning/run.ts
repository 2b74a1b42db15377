// Learning, side by side: RetinaNet-ResNet-18-FPN (P3-P6, GroupNorm + Weight Standardisation, from
// scratch) trained by our trainer (services/trainer runTrainJob: libs/detector on tfjs wasm + oneDNN
// convolutions) and by PyTorch (bench/learning/pytorch_retinanet.py) for the same wall-clock budget,
// on the same exported data, with the same recipe, both scored by libs/eval on the same validation
// split at the same checkpoints. Prints AP50 against training seconds and the ratio ours / PyTorch.
//
//   flock -x /tmp/sm-nas-cpu.lock pnpm exec tsx bench/learning/run.ts
//
// Environment (defaults in brackets): LEARN_SECONDS [180] training seconds per side (evaluation
// excluded); LEARN_CHECKPOINTS [30,60,120] extra evaluation points in seconds; LEARN_PRESET
// [standard] libs/data shapes preset; LEARN_IMAGE [128] image and input side; LEARN_TRAIN [2000] /
// LEARN_VAL [200] images; LEARN_BATCH [8]; LEARN_LR [1e-3]; LEARN_WD [1e-4]; LEARN_WARMUP [100]
// steps; LEARN_FPN [64] FPN and head width; LEARN_SEED [0]; LEARN_SIDES [ours,pytorch];
// LEARN_ANCHOR_SCALE [fitted to the data]; LEARN_THREADS [2] PyTorch threads (tfjs and oneDNN use both cores); LEARN_OUT [a temp dir].
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCanonical } from '@sm-nas/arch';
import { batches, exportCoco, generateShapesSplits, loadCoco, SHAPES_PRESETS } from '@sm-nas/data';
import { fitAnchorScale } from '@sm-nas/detector';
import { evaluateBboxes, type CocoDetection } from '@sm-nas/eval';
import { runTrainJob, TRAIN_DEFAULTS } from '@sm-nas/trainer';
import { envCheckpoints, envNumber, envPreset, envText } from './env.js';
import { ensureTorchPeer, PYTHON, torchEnv } from '../torch-peer.js';

// The wasm backend rethrows unhandled rejections with its whole source: report errors here instead.
async function main(): Promise<void> {
  const seconds = envNumber('LEARN_SECONDS', 180);
  const checkpoints = envCheckpoints('LEARN_CHECKPOINTS', '30,60,120', seconds);
  const preset = envPreset('LEARN_PRESET');
  const side = envNumber('LEARN_IMAGE', 128);
  const trainImages = envNumber('LEARN_TRAIN', 2000);
  const valImages = envNumber('LEARN_VAL', 200);
  const batch = envNumber('LEARN_BATCH', 8);
  const lr = envNumber('LEARN_LR', 1e-3);
  const wd = envNumber('LEARN_WD', 1e-4);
  const warmup = envNumber('LEARN_WARMUP', TRAIN_DEFAULTS.warmupSteps);
  const fpn = envNumber('LEARN_FPN', 64);
  const seed = envNumber('LEARN_SEED', 0);
  const threads = envNumber('LEARN_THREADS', 2);
  const sides = envText('LEARN_SIDES', 'ours,pytorch').split(',');
  const out = process.env.LEARN_OUT ?? mkdtempSync(join(tmpdir(), 'learning-'));
  mkdirSync(out, { recursive: true });

  // ---- Data: generated once, exported, read from disk by both sides --------------------------------
  const { train, val } = generateShapesSplits({ ...SHAPES_PRESETS[preset], seed, trainImages, valImages, imageSize: side });
  const dirs = { train: join(out, 'data', 'train'), val: join(out, 'data', 'val') };
  await exportCoco(train, dirs.train);
  await exportCoco(val, dirs.val);
  const valOnDisk = await loadCoco({ annotationsPath: join(dirs.val, 'annotations.json'), imagesDir: join(dirs.val, 'images') });

  // Anchors fitted to the objects as the trainer does by default (fitAnchorScale on P3-P6; levels
  // of stride 2^l have ceil(side / 2^l) cells), unless LEARN_ANCHOR_SCALE fixes them; both sides get this one.
  const fitted = fitAnchorScale(
    [3, 4, 5, 6].map((level) => ({ level, height: Math.ceil(side / 2 ** level), width: Math.ceil(side / 2 ** level) })),
    [...batches({ dataset: train, batchSize: 64, inputSize: { width: side, height: side }, shuffle: false, augment: false })].flatMap((b) => b.boxes).slice(0, 256),
  );
  const anchorScale = envNumber('LEARN_ANCHOR_SCALE', fitted.octaveBaseScale);
  const coverage = [...fitted.coverage].map(([s, f]) => `${s}: ${(100 * f).toFixed(0)}%`).join(', ');

  // One recipe for both sides. Augmentation: horizontal flip only (the PyTorch script has no scale jitter).
  const recipe = { batch, lr, wd, warmup, gradClip: TRAIN_DEFAULTS.gradClipMaxNorm, flip: true, adamEps: TRAIN_DEFAULTS.adamEpsilon, anchorScale };

  console.log(`learning benchmark: ${seconds}s per side, checkpoints ${checkpoints.join(',')}s; shapes '${String(preset)}' ${side}x${side}, ` +
    `${trainImages} train / ${valImages} val; RetinaNet-R18-FPN${fpn} P3-P6 GN+WS; ${JSON.stringify(recipe)}; out ${out}`);

  console.log(`anchors: octave base scale ${anchorScale} (boxes with an anchor of IoU >= 0.5 by scale: ${coverage})`);

  interface CurvePoint { targetSeconds: number; trainSeconds: number; steps: number; ap: number; ap50: number }
  const curves: Record<string, CurvePoint[]> = {};

  // ---- Ours -----------------------------------------------------------------------------------------
  if (sides.includes('ours')) {
    const arch = parseCanonical(`resnet18:64:11-21-21-21/fpn:3-6:${fpn}/none/retinanet:${fpn}/${side}x${side}`);
    const points: CurvePoint[] = [];
    const pending = [...checkpoints];
    for await (const e of runTrainJob({
      jobId: 'learning-ours',
      arch,
      dataset: {
        kind: 'coco',
        trainAnnotationsPath: join(dirs.train, 'annotations.json'), trainImagesDir: join(dirs.train, 'images'),
        valAnnotationsPath: join(dirs.val, 'annotations.json'), valImagesDir: join(dirs.val, 'images'),
      },
      init: 'scratch',
      batchSize: batch,
      learningRate: lr,
      weightDecay: wd,
      warmupSteps: warmup,
      gradClipMaxNorm: recipe.gradClip,
    anchorOctaveBaseScale: anchorScale,
      augment: { flip: true },
      seed,
      evalEverySteps: 0,
      evalAtSeconds: checkpoints.slice(0, -1),
      inputScale: 1,
      widthMultiplier: 1,
      maxSteps: 0,
      maxSeconds: seconds,
    })) {
      if (e.kind === 'progress') {
        if (e.validation) {
          const target = pending.shift()!;
          points.push({ targetSeconds: target, trainSeconds: e.trainSeconds, steps: e.step, ap: e.validation.ap, ap50: e.validation.ap50 });
          console.log(`ours   checkpoint ${target}s: step ${e.step}, AP50 ${e.validation.ap50.toFixed(4)} AP ${e.validation.ap.toFixed(4)}`);
        } else if (e.step % 25 === 0 || e.step === 1) {
          console.log(`ours   step ${e.step}  train ${e.trainSeconds.toFixed(1)}s  loss ${e.loss.toFixed(4)} ` +
            `(cls ${e.components.cls?.toFixed(4)} box ${e.components.box?.toFixed(4)})  ${e.imagesPerSecond.toFixed(1)} img/s`);
        }
      } else {
        if (e.status !== 'succeeded') throw new Error(`ours: ${e.status}: ${e.failureReason}`);
        points.push({ targetSeconds: pending.shift() ?? seconds, trainSeconds: e.trainSeconds, steps: e.steps, ap: e.metrics!.ap, ap50: e.metrics!.ap50 });
        console.log(`ours   final: step ${e.steps}, ${e.trainSeconds.toFixed(1)}s, AP50 ${e.metrics!.ap50.toFixed(4)} (backend ${e.backend})`);
      }
    }
    curves.ours = points;
  }

  // ---- PyTorch --------------------------------------------------------------------------------------
  if (sides.includes('pytorch')) {
    const ptOut = join(out, 'pytorch');
    const script = fileURLToPath(new URL('./pytorch_retinanet.py', import.meta.url));
    const args = [
      script, '--train', dirs.train, '--val', dirs.val, '--out', ptOut,
      '--budget', String(seconds), '--checkpoints', checkpoints.join(','), '--input', String(side),
      '--batch', String(batch), '--lr', String(lr), '--wd', String(wd), '--adam-eps', String(recipe.adamEps),
      '--warmup-steps', String(warmup), '--grad-clip', String(recipe.gradClip), '--fpn-channels', String(fpn), '--anchor-scale', String(anchorScale),
      '--seed', String(seed), '--threads', String(threads),
    ];
    await new Promise<void>((resolve, reject) => {
      ensureTorchPeer();
      const child = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'inherit'], env: torchEnv(threads) });
      child.stdout.on('data', (d: Buffer) => process.stdout.write(d.toString().replace(/^(?=.)/gm, 'torch  ')));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pytorch_retinanet.py exited with ${code}`))));
    });
    const manifest = JSON.parse(readFileSync(join(ptOut, 'manifest.json'), 'utf8')) as {
      checkpoints: Array<{ targetSeconds: number; trainSeconds: number; steps: number; detections: string }>;
    };
    curves.pytorch = manifest.checkpoints.map((c) => {
      const dets = JSON.parse(readFileSync(join(ptOut, c.detections), 'utf8')) as CocoDetection[];
      const s = evaluateBboxes(valOnDisk.coco, dets).summary;
      return { targetSeconds: c.targetSeconds, trainSeconds: c.trainSeconds, steps: c.steps, ap: s.ap, ap50: s.ap50 };
    });
  }

  // ---- Report ---------------------------------------------------------------------------------------
  console.log('\n| train s | ours steps | ours AP50 | PyTorch steps | PyTorch AP50 | ours / PyTorch |');
  console.log('|---|---|---|---|---|---|');
  for (const t of checkpoints) {
    const o = curves.ours?.find((p) => p.targetSeconds === t);
    const p = curves.pytorch?.find((q) => q.targetSeconds === t);
    const ratio = o && p && p.ap50 > 0 ? (o.ap50 / p.ap50).toFixed(2) : '-';
    console.log(`| ${t} | ${o?.steps ?? '-'} | ${o?.ap50.toFixed(4) ?? '-'} | ${p?.steps ?? '-'} | ${p?.ap50.toFixed(4) ?? '-'} | ${ratio} |`);
  }
  writeFileSync(join(out, 'curves.json'), JSON.stringify({ seconds, checkpoints, preset, side, trainImages, valImages, fpn, recipe, curves }, null, 1));
  const last = (name: string) => curves[name]?.find((p) => p.targetSeconds === seconds);
  const o = last('ours');
  const p = last('pytorch');
  if (o && p) console.log(`\nAP50 after ${seconds}s: ours ${o.ap50.toFixed(4)} / PyTorch ${p.ap50.toFixed(4)} = ${p.ap50 > 0 ? (o.ap50 / p.ap50).toFixed(2) : '-'} (goal >= 1.0)`);
  console.log(`curves: ${join(out, 'curves.json')}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  },
);
