import { describe, expect, it } from 'vitest';
import { BACKBONE_KINDS } from './architecture.js';
import { blockStringProblem } from './blocks.js';
import { STANDARD_BLOCKS } from './defaults.js';
import { toCanonical } from './canonical.js';
import {
  type BlockBounds,
  blockBoundsOf,
  blockStringCount,
  countBlockStrings,
  describeSpaces,
  enumerateStructural,
  modularSpaceSize,
  structuralAt,
  structuralSpaceSize,
} from './space.js';
import { validateArchitecture } from './validate.js';

describe('structural space', () => {
  it('has as many combinations as the rules give, counted independently', () => {
    // SM-NAS section 3.1 (the paper reports "about 11,000" without its counting rule); the rules
    // as this project writes them: 7 backbones; C4 or FPN P_start..P_end with 1 <= start <= 5 and
    // start < end <= 7 (C(7,2) - 1 = 20 ranges, 6..7 has no pyramid level), where the 2 x 5 ranges
    // that reach P6 or P7 take P6 from C5 or from P5; RetinaNet and FCOS without RPN, Faster R-CNN
    // (1 stage) or Cascade R-CNN (2, 3, 4 stages) each behind RPN or guided anchoring; 4 input sizes.
    const backbones = 7;
    const ranges = (7 * 6) / 2 - 1;
    const withExtraLevels = 2 * 5;
    const necks = 1 + ranges + withExtraLevels;
    const rpnHeads = 2 + 2 * (1 + 3);
    const inputs = 4;
    expect(structuralSpaceSize()).toBe(backbones * necks * rpnHeads * inputs);
    expect(structuralSpaceSize()).toBe(8680);
  });

  it('enumerates distinct, structurally valid architectures', () => {
    const seen = new Set<string>();
    for (const a of enumerateStructural()) {
      validateArchitecture(a, { space: 'structural' });
      seen.add(toCanonical(a));
    }
    expect(seen.size).toBe(structuralSpaceSize());
  });

  it('rejects indices outside the space', () => {
    expect(() => structuralAt(structuralSpaceSize())).toThrow(RangeError);
    expect(() => structuralAt(-1)).toThrow(RangeError);
  });
});

describe('block strings', () => {
  const depths = (s: string) => s.split('-').map((x) => x.length);

  it('writes torchvision depths for the standard backbones', () => {
    // torchvision/models/resnet.py: resnet18 layers [2,2,2,2], resnet34/50 and resnext50 [3,4,6,3],
    // resnet101 and resnext101 [3,4,23,3].
    expect(depths(STANDARD_BLOCKS.resnet18)).toEqual([2, 2, 2, 2]);
    for (const k of ['resnet34', 'resnet50', 'resnext50_32x4d'] as const) expect(depths(STANDARD_BLOCKS[k])).toEqual([3, 4, 6, 3]);
    for (const k of ['resnet101', 'resnext101_32x8d'] as const) expect(depths(STANDARD_BLOCKS[k])).toEqual([3, 4, 23, 3]);
    // torchvision/models/mobilenetv2.py inverted_residual_setting after the t=1 block:
    // 24x2 | 32x3 | 64x4 + 96x3 | 160x3 + 320x1, a new width (a '2') at each of the 6 rungs.
    expect(depths(STANDARD_BLOCKS.mobilenet_v2)).toEqual([2, 3, 4 + 3, 3 + 1]);
    expect(STANDARD_BLOCKS.mobilenet_v2.split('2').length - 1).toBe(6);
  });

  it('keeps every standard string inside the modular bounds', () => {
    for (const k of BACKBONE_KINDS) expect(blockStringProblem(STANDARD_BLOCKS[k], blockBoundsOf(k), k)).toBeUndefined();
  });

  it('explains strings outside the bounds', () => {
    const b = blockBoundsOf('resnet50');
    expect(blockStringProblem('11-21-21', b)).toMatch(/expected 4 stages separated by '-', got 3 \("11-21-21"\)/);
    expect(blockStringProblem('11--21-21', b)).toMatch(/stage 2 is empty/);
    expect(blockStringProblem('11-21-2x-21', b)).toMatch(/got "x" at position 7/);
    expect(blockStringProblem(`1-1-${'1'.repeat(31)}-2`, b)).toMatch(/stage 3 has 31 blocks, at most 30/);
    expect(blockStringProblem(`${'1'.repeat(20)}-${'1'.repeat(20)}-1-2`, b)).toMatch(/42 blocks in total/);
    expect(blockStringProblem('1-1-1-1', b)).toMatch(/0 doublings/);
    expect(blockStringProblem('2-2-2-22', b)).toMatch(/5 doublings/);
    expect(blockStringProblem('2-2-2-22', blockBoundsOf('mobilenet_v2'))).toBeUndefined();
  });

  /** Every string within `b`, by enumerating depths and bit patterns (no DP, no binomials). */
  function bruteForce(b: BlockBounds): { count: bigint; strings: string[] } {
    const strings: string[] = [];
    const stageStrings = (len: number) =>
      Array.from({ length: 2 ** len }, (_, m) => Array.from({ length: len }, (_, i) => ((m >> i) & 1 ? '2' : '1')).join(''));
    const rec = (prefix: string[]) => {
      if (prefix.length === b.stages) {
        const s = prefix.join('-');
        const total = s.length - (b.stages - 1);
        const d = s.split('2').length - 1;
        if (total >= b.minTotalBlocks && total <= b.maxTotalBlocks && d >= b.minDoublings && d <= b.maxDoublings) strings.push(s);
        return;
      }
      for (let len = b.minBlocksPerStage; len <= b.maxBlocksPerStage; len++) for (const st of stageStrings(len)) rec([...prefix, st]);
    };
    rec([]);
    return { count: BigInt(strings.length), strings };
  }

  const small: BlockBounds[] = [
    { stages: 4, minBlocksPerStage: 1, maxBlocksPerStage: 3, minTotalBlocks: 4, maxTotalBlocks: 9, minDoublings: 1, maxDoublings: 3 },
    { stages: 3, minBlocksPerStage: 1, maxBlocksPerStage: 4, minTotalBlocks: 5, maxTotalBlocks: 8, minDoublings: 0, maxDoublings: 2 },
    { stages: 2, minBlocksPerStage: 2, maxBlocksPerStage: 5, minTotalBlocks: 4, maxTotalBlocks: 10, minDoublings: 2, maxDoublings: 10 },
  ];

  it.each(small)('counts by dynamic programming what brute force enumerates (%o)', (b) => {
    const { count, strings } = bruteForce(b);
    expect(count).toBeGreaterThan(0n);
    expect(countBlockStrings(b)).toBe(count);
    // The checker accepts every enumerated string.
    for (const s of strings.slice(0, 2000)) expect(blockStringProblem(s, b)).toBeUndefined();
  });

  it('counts the real ResNet bounds as a sum over total lengths', () => {
    // Independent form: sum over T of (compositions of T into 4 parts of 1..30) x sum_d C(T, d).
    const choose = (n: number, k: number) => {
      let r = 1;
      for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
      return r;
    };
    const comps = new Map<number, number>();
    for (let a = 1; a <= 30; a++) for (let b = 1; b <= 30; b++) for (let c = 1; c <= 30; c++) for (let d = 1; d <= 30; d++) {
      const t = a + b + c + d;
      if (t <= 40) comps.set(t, (comps.get(t) ?? 0) + 1);
    }
    const count = (maxD: number) => {
      let n = 0;
      for (const [t, c] of comps) for (let d = 1; d <= maxD; d++) n += c * choose(t, d);
      return BigInt(n);
    };
    expect(blockStringCount('resnet50')).toBe(count(4));
    expect(blockStringCount('mobilenet_v2')).toBe(count(6));
  });

  it('multiplies the block strings by the width choices', () => {
    expect(modularSpaceSize('resnet50', 'fpn')).toBe(blockStringCount('resnet50') * 4n * 3n * 3n);
    expect(modularSpaceSize('resnet50', 'c4')).toBe(blockStringCount('resnet50') * 4n * 3n);
  });
});

describe('describeSpaces', () => {
  it('is plain JSON with the bounds and sizes', () => {
    const d = describeSpaces();
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
    expect(d.structural.validCombinations).toBe(8680);
    expect(d.structural.rpnHeads).toHaveLength(10);
    const bounds = Object.fromEntries(d.modular.backboneBlockBounds.map((b) => [b.backbone, b.bounds]));
    expect(Object.keys(bounds)).toEqual([...BACKBONE_KINDS]);
    expect(bounds['resnet50']).toMatchObject({ stages: 4, maxBlocksPerStage: 30, maxTotalBlocks: 40, maxDoublings: 4 });
    expect(bounds['mobilenet_v2']).toMatchObject({ stages: 4, maxDoublings: 6 });
    expect(d.structural.necks).toHaveLength(31);
    expect(BigInt(d.modular.sizeWithFpn.mobilenet_v2)).toBe(modularSpaceSize('mobilenet_v2'));
  });
});
