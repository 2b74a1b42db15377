// TrainRequest -> job spec: the wire's uint64 seeds, every value accepted and folded into the 32-bit
// seeds of the dataset and weight generators (below 2^32 unchanged).
import { parseCanonical } from '@sm-nas/arch';
import { architectureToWire } from '@sm-nas/arch/wire';
import { trainer } from '@sm-nas/proto';
import { describe, expect, it } from 'vitest';
import { pretrainJobFromRequest, trainJobFromRequest } from './request.js';

const ARCH = architectureToWire(parseCanonical('resnet18:64:11-21-21-21/fpn:3-5:256/none/retinanet:256/512x512'));

function request(seed: bigint): trainer.TrainRequest {
  return {
    jobId: 'j',
    architecture: ARCH,
    dataset: { source: { $case: 'builtin', value: { seed, trainImages: 8, valImages: 4, imageSizePx: 64 } } },
    schedule: trainer.TrainSchedule.fromPartial({ seed }),
    fidelity: { inputScale: 1, widthMultiplier: 1, maxSteps: 2, maxSeconds: 0 },
  };
}

const seedsOf = (seed: bigint) => {
  const spec = trainJobFromRequest(request(seed), undefined, () => 'new');
  return { dataset: spec.dataset.kind === 'builtin' ? spec.dataset.seed : undefined, weights: spec.seed };
};

describe('trainJobFromRequest seeds', () => {
  it('keeps a seed below 2^32 as it is', () => {
    expect(seedsOf(3n)).toEqual({ dataset: 3, weights: 3 });
    expect(seedsOf(2n ** 32n - 1n)).toEqual({ dataset: 2 ** 32 - 1, weights: 2 ** 32 - 1 });
  });

  it('accepts 2^53, 2^63 and 2^64-1, each folded to its own 32-bit seed', () => {
    const seeds = [2n ** 32n - 1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 2n, 2n ** 64n - 1n];
    const folded = seeds.map((s) => seedsOf(s).weights);
    expect(new Set(folded).size).toBe(seeds.length);
    for (const f of folded) expect(Number.isInteger(f) && f >= 0 && f < 2 ** 32).toBe(true);
    expect(seedsOf(2n ** 64n - 1n)).toEqual(seedsOf(2n ** 64n - 1n));
  });

  it('folds Pretrain\'s seed the same way', () => {
    const spec = pretrainJobFromRequest(
      { jobId: 'p', backbone: ARCH.backbone, dataset: request(2n ** 64n - 1n).dataset, schedule: undefined, fidelity: { inputScale: 1, widthMultiplier: 1, maxSteps: 2, maxSeconds: 0 }, outputPath: '/tmp/x.safetensors' },
      undefined,
      () => 'new',
    );
    expect(spec.seed).toBe(seedsOf(2n ** 64n - 1n).weights);
  });
});
