import { BACKBONE_KINDS, parseCanonical, standardBackbone, type Architecture, type BackboneKind, type Head, type Neck, type RpnKind } from '@sm-nas/arch';
import { buildGraph } from '@sm-nas/arch/graph';
import { describe, expect, it } from 'vitest';
import { countFlops, countGraphFlops } from './count.js';

const AT_224 = { form: 'classification', input: { widthPx: 224, heightPx: 224 } } as const;

function classifier(kind: BackboneKind, baseChannels = 64, blocks?: string): Architecture {
  return {
    backbone: { kind, baseChannels, blocks: blocks ?? standardBackbone(kind).blocks },
    neck: { kind: 'c4' },
    rpn: 'rpn',
    head: { kind: 'faster_rcnn', stages: 1, channels: 256 },
    input: { widthPx: 224, heightPx: 224 },
  };
}

// [multiply-adds, params] of torchvision's classification models at 224x224.
// ResNet-50 and MobileNetV2: torchvision's published numbers (4.09 / 0.30 GFLOPS, 25,557,032 and
// 3,504,872 params), to the unit as given in the task brief. All seven: printed by
// libs/flops/reference/torchvision_flops.py with Debian's python3-torch 1.13 / python3-torchvision
// 0.14.1 (forward hooks on Conv2d/Linear, sum(p.numel())), saved in reference/torchvision_flops.json.
const TORCHVISION_224: Record<BackboneKind, [number, number]> = {
  resnet18: [1_814_073_344, 11_689_512],
  resnet34: [3_663_761_408, 21_797_672],
  resnet50: [4_089_184_256, 25_557_032],
  resnet101: [7_801_405_440, 44_549_160],
  resnext50_32x4d: [4_230_479_872, 25_028_904],
  resnext101_32x8d: [16_414_015_488, 88_791_336],
  mobilenet_v2: [300_774_272, 3_504_872],
};

// Modular backbones at 224x224, printed by libs/flops/reference/torchvision_flops.py (torchvision 0.14.1)
// from torchvision's own blocks (resnet.BasicBlock / Bottleneck, mobilenetv2.InvertedResidual)
// assembled per block string; the script asserts its assembly reproduces torchvision's resnet50 and
// mobilenet_v2, and that MobileNetV2 base 48 equals torchvision's mobilenet_v2(width_mult=0.75).
const MODULAR_224: Record<string, { kind: BackboneKind; baseChannels: number; blocks: string; multiplyAdds: number; params: number }> = {
  'resnet50_b48_1211-2111-21121-21': { kind: 'resnet50', baseChannels: 48, blocks: '1211-2111-21121-21', multiplyAdds: 15_947_059_200, params: 135_923_224 },
  'resnext50_32x4d_b80_11-211-2111-21': { kind: 'resnext50_32x4d', baseChannels: 80, blocks: '11-211-2111-21', multiplyAdds: 4_854_077_440, params: 27_348_920 },
  'resnet18_b32_2-21-2111-211': { kind: 'resnet18', baseChannels: 32, blocks: '2-21-2111-211', multiplyAdds: 2_166_108_160, params: 18_676_488 },
  // Stages that start with '1' (stride 2 at the same width: a projection shortcut).
  'resnet34_b64_11-12-111-1': { kind: 'resnet34', baseChannels: 64, blocks: '11-12-111-1', multiplyAdds: 1_013_281_792, params: 1_809_832 },
  'resnext101_32x8d_b32_1-1211-1-12': { kind: 'resnext101_32x8d', baseChannels: 32, blocks: '1-1211-1-12', multiplyAdds: 713_512_960, params: 2_092_680 },
  'mobilenet_v2_b48_21-211-2111211-2112': { kind: 'mobilenet_v2', baseChannels: 48, blocks: '21-211-2111211-2112', multiplyAdds: 209_069_792, params: 2_636_424 },
  'mobilenet_v2_b96_2-2121-21211-2111': { kind: 'mobilenet_v2', baseChannels: 96, blocks: '2-2121-21211-2111', multiplyAdds: 1_304_518_752, params: 14_716_968 },
};

// Whole detectors built from plain torch.nn layers after mmdetection's FPN, RPNHead, GARPNHead,
// RetinaHead, Shared2FCBBoxHead and C4 shared head, with torchvision's backbone blocks, counted by
// forward hooks on a real forward pass (RoI heads on one RoI: per proposal). Printed by
// libs/flops/reference/torchvision_flops.py (torch 1.13, torchvision 0.14.1; its output is
// reference/torchvision_flops.json). modules: name -> [multiply-adds (per proposal for head.stageN), params].
const DETECTORS: Record<string, { arch: Architecture; perImageMultiplyAdds: number; perProposalMultiplyAdds: number; params: number; modules: Record<string, [number, number]> }> = {
  'retinanet_r50_fpn2-6_1333x800': {
    arch: { backbone: { kind: 'resnet50', baseChannels: 64, blocks: '111-2111-211111-211' }, neck: { kind: 'fpn', startLevel: 2, endLevel: 6, channels: 256, extraSource: 'c5' }, rpn: 'none', head: { kind: 'retinanet', stages: 0, channels: 256 }, input: { widthPx: 1333, heightPx: 800 } },
    perImageMultiplyAdds: 724_312_182_784,
    perProposalMultiplyAdds: 0,
    params: 38_034_484,
    modules: {
      'backbone.stem': [2_510_054_400, 9_536],
      'backbone.stage1': [14_227_865_600, 215_808],
      'backbone.stage2': [21_889_024_000, 1_219_584],
      'backbone.stage3': [31_365_529_600, 7_098_368],
      'backbone.stage4': [17_340_825_600, 14_964_736],
      'neck': [61_853_270_016, 8_063_232],
      'head': [575_125_613_568, 6_463_220],
    },
  },
  'faster_r50_fpn2-6_1333x800': {
    arch: { backbone: { kind: 'resnet50', baseChannels: 64, blocks: '111-2111-211111-211' }, neck: { kind: 'fpn', startLevel: 2, endLevel: 6, channels: 256, extraSource: 'c5' }, rpn: 'rpn', head: { kind: 'faster_rcnn', stages: 1, channels: 256 }, input: { widthPx: 1333, heightPx: 800 } },
    perImageMultiplyAdds: 202_036_319_488,
    perProposalMultiplyAdds: 14_304_256,
    params: 46_471_904,
    modules: {
      'backbone.stem': [2_510_054_400, 9_536],
      'backbone.stage1': [14_227_865_600, 215_808],
      'backbone.stage2': [21_889_024_000, 1_219_584],
      'backbone.stage3': [31_365_529_600, 7_098_368],
      'backbone.stage4': [17_340_825_600, 14_964_736],
      'neck': [61_853_270_016, 8_063_232],
      'rpn': [52_849_750_272, 593_935],
      'head.stage1': [14_304_256, 14_306_705],
    },
  },
  'faster_ga_r18b48_fpn3-5_800x600': {
    arch: { backbone: { kind: 'resnet18', baseChannels: 48, blocks: '12-211-21-2' }, neck: { kind: 'fpn', startLevel: 3, endLevel: 5, channels: 128, extraSource: 'c5' }, rpn: 'guided_anchoring', head: { kind: 'faster_rcnn', stages: 1, channels: 128 }, input: { widthPx: 800, heightPx: 600 } },
    perImageMultiplyAdds: 37_377_575_600,
    perProposalMultiplyAdds: 3_678_720,
    params: 19_600_409,
    modules: {
      'backbone.stem': [846_720_000, 7_152],
      'backbone.stage1': [5_114_880_000, 171_264],
      'backbone.stage2': [13_824_000_000, 1_845_888],
      'backbone.stage3': [8_965_324_800, 4_722_432],
      'backbone.stage4': [3_922_329_600, 8_262_144],
      'neck': [1_780_531_200, 615_168],
      'rpn': [2_923_790_000, 296_216],
      'head.stage1': [3_678_720, 3_680_145],
    },
  },
  'faster_r50_c4_800x600': {
    arch: { backbone: { kind: 'resnet50', baseChannels: 64, blocks: '111-2111-211111-211' }, neck: { kind: 'c4' }, rpn: 'rpn', head: { kind: 'faster_rcnn', stages: 1, channels: 256 }, input: { widthPx: 800, heightPx: 600 } },
    perImageMultiplyAdds: 49_607_680_000,
    perProposalMultiplyAdds: 810_059_776,
    params: 33_844_764,
    modules: {
      'backbone.stem': [1_128_960_000, 9_536],
      'backbone.stage1': [6_389_760_000, 215_808],
      'backbone.stage2': [9_830_400_000, 1_219_584],
      'backbone.stage3': [14_181_990_400, 7_098_368],
      'rpn': [18_076_569_600, 9_515_083],
      'head.stage1': [810_059_776, 15_786_385],
    },
  },
  'cascade3_ga_mbv2b48_fpn1-6_1080x720': {
    arch: { backbone: { kind: 'mobilenet_v2', baseChannels: 48, blocks: '21-211-2111211-2112' }, neck: { kind: 'fpn', startLevel: 1, endLevel: 6, channels: 96, extraSource: 'c5' }, rpn: 'guided_anchoring', head: { kind: 'cascade_rcnn', stages: 3, channels: 160 }, input: { widthPx: 1080, heightPx: 720 } },
    perImageMultiplyAdds: 68_244_813_024,
    perProposalMultiplyAdds: 10_423_680,
    params: 12_299_575,
    modules: {
      'backbone.stem': [242_611_200, 1_376],
      'backbone.stage1': [851_472_000, 13_968],
      'backbone.stage2': [425_152_800, 26_496],
      'backbone.stage3': [862_902_720, 281_184],
      'backbone.stage4': [626_913_216, 722_640],
      'neck': [22_001_868_288, 659_232],
      'rpn': [43_233_892_800, 166_904],
      'head.stage1': [3_474_560, 3_475_925],
      'head.stage2': [3_474_560, 3_475_925],
      'head.stage3': [3_474_560, 3_475_925],
    },
  },
  'cascade2_ga_x50_c4_512x512': {
    arch: { backbone: { kind: 'resnext50_32x4d', baseChannels: 64, blocks: '111-2111-211111-211' }, neck: { kind: 'c4' }, rpn: 'guided_anchoring', head: { kind: 'cascade_rcnn', stages: 2, channels: 256 }, input: { widthPx: 512, heightPx: 512 } },
    perImageMultiplyAdds: 36_905_828_352,
    perProposalMultiplyAdds: 1_731_219_456,
    params: 56_756_866,
    modules: {
      'backbone.stem': [616_562_688, 9_536],
      'backbone.stage1': [3_313_500_160, 205_824],
      'backbone.stage2': [5_670_699_008, 1_197_056],
      'backbone.stage3': [7_969_177_600, 7_022_592],
      'rpn': [19_335_888_896, 18_883_736],
      'head.stage1': [865_609_728, 14_719_061],
      'head.stage2': [865_609_728, 14_719_061],
    },
  },
  'retinanet_mbv2_c4_512x512': {
    arch: { backbone: { kind: 'mobilenet_v2', baseChannels: 64, blocks: '21-211-2111211-2112' }, neck: { kind: 'c4' }, rpn: 'none', head: { kind: 'retinanet', stages: 0, channels: 128 }, input: { widthPx: 512, heightPx: 512 } },
    perImageMultiplyAdds: 3_120_693_248,
    perProposalMultiplyAdds: 0,
    params: 2_521_140,
    modules: {
      'backbone.stem': [109_051_904, 1_824],
      'backbone.stage1': [287_047_680, 13_968],
      'backbone.stage2': [195_624_960, 39_696],
      'backbone.stage3': [504_692_736, 487_040],
      'head': [2_024_275_968, 1_978_612],
    },
  },
};

function sumModules(r: ReturnType<typeof countFlops>): { multiplyAdds: number; params: number; perProposal: number } {
  return {
    multiplyAdds: r.modules.reduce((s, m) => s + m.multiplyAdds, 0),
    params: r.modules.reduce((s, m) => s + m.params, 0),
    perProposal: r.modules.reduce((s, m) => s + m.perProposalMultiplyAdds, 0),
  };
}

/** A deterministic spread over the structural space (every backbone, neck kind and rpn/head pair). */
function sweep(): Architecture[] {
  const necks: Neck[] = [{ kind: 'c4' }, { kind: 'fpn', startLevel: 1, endLevel: 6, channels: 128, extraSource: 'c5' },
    { kind: 'fpn', startLevel: 2, endLevel: 5, channels: 256, extraSource: 'c5' }, { kind: 'fpn', startLevel: 4, endLevel: 5, channels: 64, extraSource: 'c5' },
    { kind: 'fpn', startLevel: 3, endLevel: 7, channels: 128, extraSource: 'p5' }, { kind: 'fpn', startLevel: 5, endLevel: 7, channels: 64, extraSource: 'c5' }];
  const heads: Array<[RpnKind, Head]> = [
    ['none', { kind: 'retinanet', stages: 0, channels: 192 }],
    ['none', { kind: 'fcos', stages: 0, channels: 64 }],
    ['rpn', { kind: 'faster_rcnn', stages: 1, channels: 256 }],
    ['guided_anchoring', { kind: 'faster_rcnn', stages: 1, channels: 128 }],
    ['rpn', { kind: 'cascade_rcnn', stages: 4, channels: 256 }],
    ['guided_anchoring', { kind: 'cascade_rcnn', stages: 2, channels: 64 }],
  ];
  const out: Architecture[] = [];
  for (const kind of BACKBONE_KINDS) {
    for (const neck of necks) {
      for (const [rpn, head] of heads) {
        out.push({ backbone: standardBackbone(kind), neck, rpn, head, input: { widthPx: 1080, heightPx: 721 } });
      }
    }
  }
  return out;
}

describe('classification forms against torchvision (224x224)', () => {
  for (const kind of BACKBONE_KINDS) {
    it(kind, () => {
      const r = countFlops(classifier(kind), AT_224);
      expect([r.multiplyAdds, r.params]).toEqual(TORCHVISION_224[kind]);
      expect(r.proposals).toBe(0);
      expect(r.modules.map((m) => m.name)).toEqual([
        'backbone.stem', 'backbone.stage1', 'backbone.stage2', 'backbone.stage3', 'backbone.stage4', 'backbone.classifier',
      ]);
    });
  }

  for (const [name, { kind, baseChannels, blocks, multiplyAdds, params }] of Object.entries(MODULAR_224)) {
    it(`modular variant ${name}`, () => {
      const r = countFlops(classifier(kind, baseChannels, blocks), AT_224);
      expect([r.multiplyAdds, r.params]).toEqual([multiplyAdds, params]);
    });
  }
});

describe('detectors against an independent PyTorch build', () => {
  for (const [name, ref] of Object.entries(DETECTORS)) {
    it(name, () => {
      const r = countFlops(ref.arch);
      expect(r.multiplyAdds - r.proposals * r.perProposalMultiplyAdds).toBe(ref.perImageMultiplyAdds);
      expect(r.perProposalMultiplyAdds).toBe(ref.perProposalMultiplyAdds);
      expect(r.params).toBe(ref.params);
      expect(r.proposals).toBe(ref.perProposalMultiplyAdds > 0 ? 1000 : 0);
      expect(Object.fromEntries(r.modules.map((m) => [m.name, [m.perProposalMultiplyAdds || m.multiplyAdds, m.params]]))).toEqual(ref.modules);
    });
  }
});

// torchvision 0.14.1's own retinanet_resnet50_fpn and fcos_resnet50_fpn (weights=None: BatchNorm2d,
// 91 classes; P3-P7 with P6 and P7 from P5), their backbone and head run on one 800x1344 image by
// libs/flops/reference/torchvision_flops.py ("torchvisionDetectors800x1344" in its JSON). modules:
// name -> [multiply-adds, params].
const RESNET50_FPN_P3_P7_P5: Record<string, [number, number]> = {
      'backbone.stem': [2_528_870_400, 9_536],
      'backbone.stage1': [14_313_062_400, 215_808],
      'backbone.stage2': [22_020_096_000, 1_219_584],
      'backbone.stage3': [31_378_636_800, 7_098_368],
      'backbone.stage4': [17_340_825_600, 14_964_736],
      neck: [17_065_574_400, 3_868_672],
};
const TORCHVISION_DETECTORS: Record<string, { arch: string; multiplyAdds: number; params: number; modules: Record<string, [number, number]> }> = {
  retinanet_resnet50_fpn: {
    arch: 'resnet50:64:111-2111-211111-211/fpn:3-7:256:p5/none/retinanet:256/1344x800',
    multiplyAdds: 254_469_734_400,
    params: 34_068_119,
    modules: {
      ...RESNET50_FPN_P3_P7_P5,
      head: [149_822_668_800, 6_691_415],
    },
  },
  fcos_resnet50_fpn: {
    arch: 'resnet50:64:111-2111-211111-211/fpn:3-7:256:p5/none/fcos:256/1344x800',
    multiplyAdds: 215_298_048_000,
    params: 32_322_720,
    modules: {
      ...RESNET50_FPN_P3_P7_P5,
      head: [110_650_982_400, 4_946_016],
    },
  },
};

describe("torchvision's one-stage detectors, expressed exactly", () => {
  for (const [name, ref] of Object.entries(TORCHVISION_DETECTORS)) {
    it(name, () => {
      const r = countFlops(parseCanonical(ref.arch), { numClasses: 91 });
      expect([r.multiplyAdds, r.params]).toEqual([ref.multiplyAdds, ref.params]);
      expect(Object.fromEntries(r.modules.map((m) => [m.name, [m.multiplyAdds, m.params]]))).toEqual(ref.modules);
    });
  }
});

describe('countFlops invariants', () => {
  const archs = sweep();

  it('per-module sums equal the totals', () => {
    for (const a of archs) {
      const r = countFlops(a);
      const s = sumModules(r);
      expect(s.multiplyAdds).toBe(r.multiplyAdds);
      expect(s.params).toBe(r.params);
      expect(s.perProposal).toBe(r.perProposalMultiplyAdds);
    }
  });

  it('the graph-building sink and the summing sink give the same report', () => {
    for (const a of archs) {
      for (const options of [{}, { proposals: 300, numClasses: 20 }]) {
        expect(countGraphFlops(buildGraph(a, options))).toEqual(countFlops(a, options));
      }
    }
    const c = classifier('mobilenet_v2');
    expect(countGraphFlops(buildGraph(c, AT_224))).toEqual(countFlops(c, AT_224));
  });

  it('two-stage total = per-image + proposals x per-proposal', () => {
    for (const a of archs) {
      const r1000 = countFlops(a);
      const r300 = countFlops(a, { proposals: 300 });
      if (a.head.stages === 0) {
        expect(r1000.perProposalMultiplyAdds).toBe(0);
        expect(r1000.proposals).toBe(0);
        expect(r300.multiplyAdds).toBe(r1000.multiplyAdds);
        continue;
      }
      expect(r1000.proposals).toBe(1000);
      expect(r300.proposals).toBe(300);
      expect(r1000.perProposalMultiplyAdds).toBeGreaterThan(0);
      expect(r300.perProposalMultiplyAdds).toBe(r1000.perProposalMultiplyAdds);
      expect(r1000.multiplyAdds - r300.multiplyAdds).toBe(700 * r1000.perProposalMultiplyAdds);
      expect(r300.params).toBe(r1000.params);
      for (const m of r1000.modules) {
        if (m.name.startsWith('head.stage')) expect(m.multiplyAdds).toBe(1000 * m.perProposalMultiplyAdds);
        else expect(m.perProposalMultiplyAdds).toBe(0);
      }
    }
  });

  it('grows with the input size', () => {
    const sizes = [[512, 512], [800, 600], [1080, 720], [1333, 800], [1600, 1000]] as const;
    for (const a of archs) {
      const totals = sizes.map(([widthPx, heightPx]) => countFlops(a, { input: { widthPx, heightPx } }).multiplyAdds);
      for (let i = 1; i < totals.length; i++) expect(totals[i]!).toBeGreaterThan(totals[i - 1]!);
    }
  });

  it('counts frozen BN and GN affine parameters like BN (2C) and no multiply-adds', () => {
    for (const a of archs.slice(0, 40)) {
      const bn = countFlops(a);
      expect(countFlops(a, { norm: 'frozen_batch_norm' })).toEqual(bn);
      expect(countFlops(a, { norm: 'group_norm' })).toEqual(bn);
    }
  });

  it('counts shared dense heads once in params but on every level in multiply-adds', () => {
    const base: Architecture = {
      backbone: standardBackbone('resnet50'), neck: { kind: 'fpn', startLevel: 3, endLevel: 5, channels: 256, extraSource: 'c5' },
      rpn: 'none', head: { kind: 'retinanet', stages: 0, channels: 256 }, input: { widthPx: 800, heightPx: 800 },
    };
    const wider = { ...base, neck: { ...base.neck, startLevel: 2 } } as Architecture;
    const head = (a: Architecture): { multiplyAdds: number; params: number } => countFlops(a).modules.find((m) => m.name === 'head')!;
    expect(head(wider).params).toBe(head(base).params);
    // P2 at 800x800 is 200x200; each RetinaHead conv is 3x3 at 256 -> 256 (8 towers convs) plus
    // cls 256 -> 9*80 and reg 256 -> 36 (mmdetection RetinaHead).
    const p2 = 200 * 200 * 9 * 256 * (8 * 256 + 9 * 80 + 36);
    expect(head(wider).multiplyAdds - head(base).multiplyAdds).toBe(p2);
  });

  it('keeps every count an exact integer below 2^53', () => {
    for (const a of archs) {
      const r = countFlops(a, { input: { widthPx: 1333, heightPx: 800 } });
      for (const v of [r.multiplyAdds, r.params, r.perProposalMultiplyAdds]) {
        expect(Number.isSafeInteger(v)).toBe(true);
      }
    }
  });
});
