// The offline pretrain job produces torchvision-named backbone weights that the trainer's pretrained
// mode loads: the whole pretrained path runs here without ImageNet.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCanonical } from '@sm-nas/arch';
import { afterAll, describe, expect, it } from 'vitest';
import { runPretrainJob, type PretrainEvent, type PretrainResultEvent } from './pretrain-job.js';
import { readSafetensors } from './safetensors.js';
import { runTrainJob, type TrainResultEvent } from './train-job.js';

const dir = mkdtempSync(join(tmpdir(), 'pretrain-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('pretrain, then train in pretrained mode', () => {
  it('writes torchvision names and the detector loads them', async () => {
    const arch = parseCanonical('resnet18:64:11-21-21-21/fpn:3-5:256/none/retinanet:256/512x512');
    const outputPath = join(dir, 'r18.safetensors');
    const events: PretrainEvent[] = [];
    for await (const e of runPretrainJob({
      jobId: 'p', backbone: arch.backbone, widthMultiplier: 0.125, seed: 1, trainImages: 16, imageSizePx: 64,
      cropPx: 32, batchSize: 8, learningRate: 1e-3, maxSteps: 5, maxSeconds: 0, outputPath,
    })) events.push(e);
    const result = events.at(-1) as PretrainResultEvent;
    expect(result.failureReason).toBe('');
    expect(result.status).toBe('succeeded');
    expect(result.top1Accuracy).toBeGreaterThanOrEqual(0);

    const { tensors, metadata } = await readSafetensors(outputPath);
    expect(metadata.backbone).toBe('resnet18');
    // torchvision's resnet18 state-dict keys (torchvision/models/resnet.py), at base width 8.
    expect(tensors.get('conv1.weight')?.shape).toEqual([8, 3, 7, 7]);
    expect(tensors.get('layer4.1.conv2.weight')?.shape).toEqual([64, 64, 3, 3]);
    expect(tensors.has('layer2.0.downsample.0.weight')).toBe(true);
    expect(tensors.has('fc.weight')).toBe(true);

    let trained: TrainResultEvent | undefined;
    for await (const e of runTrainJob({
      jobId: 't', arch, dataset: { kind: 'builtin', seed: 2, trainImages: 8, valImages: 4, imageSizePx: 64 },
      init: 'pretrained', pretrainedWeightsPath: outputPath, batchSize: 4, learningRate: 1e-3, weightDecay: 0, seed: 0,
      evalEverySteps: 0, inputScale: 1 / 8, widthMultiplier: 0.125, maxSteps: 2, maxSeconds: 0,
    })) if (e.kind === 'result') trained = e;
    expect(trained?.failureReason).toBe('');
    expect(trained?.status).toBe('succeeded');

    // Weights made at another width: refused before the first step, saying what fixes it.
    let wider: TrainResultEvent | undefined;
    for await (const e of runTrainJob({
      jobId: 'w', arch, dataset: { kind: 'builtin', seed: 2, trainImages: 8, valImages: 4, imageSizePx: 64 },
      init: 'pretrained', pretrainedWeightsPath: outputPath, batchSize: 4, learningRate: 1e-3, weightDecay: 0, seed: 0,
      evalEverySteps: 0, inputScale: 1 / 8, widthMultiplier: 0.25, maxSteps: 2, maxSeconds: 0,
    })) if (e.kind === 'result') wider = e;
    expect(wider?.status).toBe('failed');
    expect(wider?.steps).toBe(0);
    expect(wider?.failureReason).toMatch(/conv1\.weight is \[8, 3, 7, 7\] there, this detector's is \[16, 3, 7, 7\] at fidelity\.width_multiplier 0\.25: pretrained weights fix the width/);

    // A two-stage detector on C4 loads the same file: the backbone, and layer4 into the per-RoI res5
    // head of each cascade stage.
    const twoStage = parseCanonical('resnet18:64:11-21-21-21/c4/rpn/cascade_rcnn.2:256/512x512');
    let cascade: TrainResultEvent | undefined;
    for await (const e of runTrainJob({
      jobId: 'c4', arch: twoStage, dataset: { kind: 'builtin', seed: 2, trainImages: 8, valImages: 4, imageSizePx: 64 },
      init: 'pretrained', pretrainedWeightsPath: outputPath, batchSize: 4, learningRate: 1e-3, weightDecay: 0, seed: 0,
      evalEverySteps: 0, inputScale: 1 / 8, widthMultiplier: 0.125, maxSteps: 2, maxSeconds: 0, checkpointDir: dir,
    })) if (e.kind === 'result') cascade = e;
    expect(cascade?.failureReason).toBe('');
    expect(cascade?.status).toBe('succeeded');
    const saved = await readSafetensors(cascade!.checkpointPath);
    // frozen BN and, in pretrained mode, the stage copies keep the pretrained layer4 statistics
    const layer4 = tensors.get('layer4.1.bn2.running_var')!.data;
    for (const t of [1, 2]) {
      const copy = [...saved.tensors.entries()].find(([k]) => k.endsWith(`stage${t}.shared_head.block1.bn2.running_var`));
      expect(copy, `stage ${t}`).toBeDefined();
      expect(Array.from(copy![1].data)).toEqual(Array.from(layer4));
    }
  }, 240_000);
});
