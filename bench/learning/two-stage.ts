// Learning, side by side, for two-stage detectors: Faster R-CNN-ResNet-18-FPN and 3-stage Cascade
// R-CNN-ResNet-18-FPN (P2-P6, GroupNorm + Weight Standardisation, from scratch; libs/detector on tfjs
// wasm + oneDNN) against torchvision's Faster R-CNN with the same backbone
// (bench/learning/pytorch_faster_rcnn.py), each for the same wall-clock budget, on the same exported
// data with the same recipe (AdamW, linear warm-up, global-norm clip 35, horizontal flip), scored by
// libs/eval on the same validation split at the same checkpoints. Prints AP50 against training
// seconds and ours / PyTorch.
//
//   flock -x /tmp/sm-nas-cpu.lock pnpm exec tsx bench/learning/two-stage.ts
//
// Environment [defaults]: TS_SECONDS [300] training seconds per run (evaluation excluded);
// TS_CHECKPOINTS [60,120,180] extra evaluation points; TS_PRESET [standard]; TS_IMAGE [128];
// TS_TRAIN [2000] / TS_VAL [200] images; TS_BATCH [8]; TS_LR [1e-3]; TS_WD [1e-4]; TS_WARMUP [50];
// TS_FPN [256] FPN width (the R-CNN FCs have 4x TS_HEAD [256] units); TS_ROIS [128] RoIs sampled
// per image on both sides; TS_PROPOSALS [300] proposals per image after NMS, training and test, on
// both sides (the 1000 of a full-size image on a 128x128 one cost the 3-stage cascade ~2 s an
// image in evaluation, its R-CNN heads run per proposal); TS_RUNS [faster,cascade,pytorch];
// TS_RPN_MIN_POS_IOU [0.3, libs/detector's RPN_ASSIGNER, mmdetection's] the RPN's low-quality match
// bound on our side (0: torchvision's, at any IoU); TS_SEED [0]; TS_THREADS [2] PyTorch threads;
// TS_OUT [a temp dir].
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCanonical } from '@sm-nas/arch';
import { batches, exportCoco, generateShapesSplits, loadCoco, SHAPES_PRESETS } from '@sm-nas/data';
import { createDetector, RPN_ASSIGNER } from '@sm-nas/detector';
import { evaluateBboxes, type CocoDetection } from '@sm-nas/eval';
import { decaysWeight, evaluateDetector } from '@sm-nas/trainer';
import { AdamW, initBackend } from '@sm-nas/tfjs-runtime';
import { envCheckpoints, envNumber, envPreset, envText } from './env.js';
import { ensureTorchPeer, PYTHON, torchEnv } from '../torch-peer.js';

interface CurvePoint { targetSeconds: number; trainSeconds: number; steps: number; ap: number; ap50: number }

async function main(): Promise<void> {
  const seconds = envNumber('TS_SECONDS', 300);
  const checkpoints = envCheckpoints('TS_CHECKPOINTS', '60,120,180', seconds);
  const preset = envPreset('TS_PRESET');
  const side = envNumber('TS_IMAGE', 128);
  const trainImages = envNumber('TS_TRAIN', 2000);
  const valImages = envNumber('TS_VAL', 200);
  const batch = envNumber('TS_BATCH', 8);
  const lr = envNumber('TS_LR', 1e-3);
  const wd = envNumber('TS_WD', 1e-4);
  const warmup = envNumber('TS_WARMUP', 50);
  const fpn = envNumber('TS_FPN', 256);
  const head = envNumber('TS_HEAD', 256);
  const rois = envNumber('TS_ROIS', 128);
  const proposals = envNumber('TS_PROPOSALS', 300);
  const rpnMinPosIou = envNumber('TS_RPN_MIN_POS_IOU', RPN_ASSIGNER.minPosIou);
  const seed = envNumber('TS_SEED', 0);
  const threads = envNumber('TS_THREADS', 2);
  const runs = envText('TS_RUNS', 'faster,cascade,pytorch').split(',');
  const out = process.env.TS_OUT ?? mkdtempSync(join(tmpdir(), 'two-stage-'));
  mkdirSync(out, { recursive: true });
  const gradClip = 35;
  console.log(`two-stage learning: ${seconds}s per run, checkpoints ${checkpoints.join(',')}s; shapes '${String(preset)}' ${side}x${side}, ` +
    `${trainImages} train / ${valImages} val; R18-FPN${fpn} P2-P6 GN+WS, FC ${4 * head}, ${proposals} proposals and ${rois} RoIs/img, RPN low-quality matches from IoU ${rpnMinPosIou}; batch ${batch}, AdamW lr ${lr} wd ${wd}, ` +
    `warm-up ${warmup}, clip ${gradClip}, flip; out ${out}`);

  const { train, val } = generateShapesSplits({ ...SHAPES_PRESETS[preset], seed, trainImages, valImages, imageSize: side });
  const dirs = { train: join(out, 'data', 'train'), val: join(out, 'data', 'val') };
  await exportCoco(train, dirs.train);
  await exportCoco(val, dirs.val);
  const trainOnDisk = await loadCoco({ annotationsPath: join(dirs.train, 'annotations.json'), imagesDir: join(dirs.train, 'images') });
  const valOnDisk = await loadCoco({ annotationsPath: join(dirs.val, 'annotations.json'), imagesDir: join(dirs.val, 'images') });
  const numClasses = trainOnDisk.coco.categories.length;
  const curves: Record<string, CurvePoint[]> = {};

  const backend = await initBackend();
  for (const run of runs.filter((r) => r === 'faster' || r === 'cascade')) {
    const headString = run === 'faster' ? `faster_rcnn:${head}` : `cascade_rcnn.3:${head}`;
    const arch = parseCanonical(`resnet18:64:11-21-21-21/fpn:2-6:${fpn}/rpn/${headString}/${side}x${side}`);
    const det = createDetector(arch, {
      numClasses,
      norm: 'group_norm',
      seed,
      twoStage: { rpn: { assigner: { ...RPN_ASSIGNER, minPosIou: rpnMinPosIou } }, rcnn: { sampleNum: rois }, proposals: { train: { maxPerImg: proposals }, test: { maxPerImg: proposals } } },
    });
    // AdamW with the trainer's decay rule (weights, not biases and norms), as torch.optim.AdamW with groups
    const opt = new AdamW({ learningRate: lr, epsilon: 1e-8, weightDecay: wd, decays: decaysWeight });
    const points: CurvePoint[] = [];
    const pending = [...checkpoints];
    let trainSeconds = 0;
    let step = 0;
    let lastLog = -Infinity;
    console.log(`${run}: ${arch.head.kind} x${arch.head.stages}, backend ${backend.name}`);
    for (let epoch = 0; pending.length > 0; epoch++) {
      for (const b of batches({ dataset: trainOnDisk, batchSize: batch, inputSize: { width: side, height: side }, seed, epoch, augment: { flip: true }, dropLast: true })) {
        const t0 = performance.now();
        const rate = lr * (warmup > 0 ? Math.min(1, 0.001 + (1 - 0.001) * (step / warmup)) : 1);
        opt.learningRate = rate;
        const l = await det.trainStep(opt, b);
        trainSeconds += (performance.now() - t0) / 1000;
        step++;
        if (!Number.isFinite(l.total)) throw new Error(`${run}: diverged at step ${step}: ${JSON.stringify(l.components)}`);
        if (trainSeconds - lastLog >= 15) {
          console.log(`${run} step ${step} train ${trainSeconds.toFixed(1)}s loss ${l.total.toFixed(4)} ` +
            Object.entries(l.components).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(' ') + ` |g| ${l.gradNorm.toFixed(1)} ${(step * batch / trainSeconds).toFixed(1)} img/s`);
          lastLog = trainSeconds;
        }
        if (trainSeconds >= pending[0]!) {
          const s = await evaluateDetector(det, valOnDisk, 16);
          const target = pending.shift()!;
          points.push({ targetSeconds: target, trainSeconds, steps: step, ap: s.ap, ap50: s.ap50 });
          console.log(`${run} checkpoint ${target}s: step ${step}, AP50 ${s.ap50.toFixed(4)} AP ${s.ap.toFixed(4)}`);
          if (pending.length === 0) break;
        }
      }
    }
    curves[run] = points;
    opt.dispose();
    det.dispose();
  }

  if (runs.includes('pytorch')) {
    const ptOut = join(out, 'pytorch');
    const script = fileURLToPath(new URL('./pytorch_faster_rcnn.py', import.meta.url));
    const args = [
      script, '--train', dirs.train, '--val', dirs.val, '--out', ptOut, '--budget', String(seconds), '--checkpoints', checkpoints.join(','),
      '--input', String(side), '--batch', String(batch), '--lr', String(lr), '--wd', String(wd), '--warmup-steps', String(warmup),
      '--grad-clip', String(gradClip), '--fpn-channels', String(fpn), '--head-channels', String(head), '--rois', String(rois), '--proposals', String(proposals),
      '--seed', String(seed), '--threads', String(threads),
    ];
    await new Promise<void>((resolve, reject) => {
      ensureTorchPeer();
      const child = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'inherit'], env: torchEnv(threads) });
      child.stdout.on('data', (d: Buffer) => process.stdout.write(d.toString().replace(/^(?=.)/gm, 'torch  ')));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pytorch_faster_rcnn.py exited with ${code}`))));
    });
    const manifest = JSON.parse(readFileSync(join(ptOut, 'manifest.json'), 'utf8')) as { checkpoints: Array<{ targetSeconds: number; trainSeconds: number; steps: number; detections: string }> };
    curves.pytorch = manifest.checkpoints.map((c) => {
      const dets = JSON.parse(readFileSync(join(ptOut, c.detections), 'utf8')) as CocoDetection[];
      const s = evaluateBboxes(valOnDisk.coco, dets).summary;
      return { targetSeconds: c.targetSeconds, trainSeconds: c.trainSeconds, steps: c.steps, ap: s.ap, ap50: s.ap50 };
    });
  }

  const names = Object.keys(curves);
  console.log(`\n| train s | ${names.map((n) => `${n} steps | ${n} AP50`).join(' | ')} | ${names.filter((n) => n !== 'pytorch').map((n) => `${n} / PyTorch`).join(' | ')} |`);
  console.log(`|---|${names.map(() => '---|---|').join('')}${names.filter((n) => n !== 'pytorch').map(() => '---|').join('')}`);
  for (const t of checkpoints) {
    const at = (n: string) => curves[n]?.find((p) => p.targetSeconds === t);
    const p = at('pytorch');
    const cells = names.map((n) => `${at(n)?.steps ?? '-'} | ${at(n)?.ap50.toFixed(4) ?? '-'}`);
    const ratios = names.filter((n) => n !== 'pytorch').map((n) => (at(n) && p && p.ap50 > 0 ? (at(n)!.ap50 / p.ap50).toFixed(2) : '-'));
    console.log(`| ${t} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`);
  }
  writeFileSync(join(out, 'curves.json'), JSON.stringify({ seconds, checkpoints, preset, side, trainImages, valImages, fpn, head, rois, curves }, null, 1));
  console.log(`curves: ${join(out, 'curves.json')}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  },
);
