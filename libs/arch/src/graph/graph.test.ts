import { describe, expect, it } from 'vitest';
import type { Architecture } from '../architecture.js';
import { standardBackbone } from '../defaults.js';
import { buildGraph, GraphBuilder, type LayerGraph, type LayerNode } from './graph.js';
import { lower, makeDivisible } from './lower.js';

function arch(partial: Partial<Architecture>): Architecture {
  return {
    backbone: standardBackbone('resnet50'),
    neck: { kind: 'fpn', startLevel: 2, endLevel: 6, channels: 256, extraSource: 'c5' },
    rpn: 'rpn',
    head: { kind: 'faster_rcnn', stages: 1, channels: 256 },
    input: { widthPx: 1333, heightPx: 800 },
    ...partial,
  };
}

function byPath(g: LayerGraph, path: string): LayerNode {
  const n = g.nodes.find((x) => x.path === path);
  if (!n) throw new Error(`no node ${path}`);
  return n;
}

function outputsOf(g: LayerGraph, role: string): Map<number, LayerNode> {
  return new Map(g.outputs.filter((o) => o.role === role).map((o) => [o.index, g.nodes[o.node]!]));
}

describe('lowering to a layer graph', () => {
  it('numbers nodes in emission order, inputs first, paths unique', () => {
    for (const a of [
      arch({}),
      arch({ neck: { kind: 'c4' }, rpn: 'guided_anchoring', head: { kind: 'cascade_rcnn', stages: 3, channels: 256 } }),
      arch({ backbone: standardBackbone('mobilenet_v2'), rpn: 'none', head: { kind: 'retinanet', stages: 0, channels: 128 } }),
    ]) {
      const g = buildGraph(a);
      g.nodes.forEach((n, i) => {
        expect(n.id).toBe(i);
        for (const input of n.inputs) expect(input).toBeLessThan(i);
      });
      expect(new Set(g.nodes.map((n) => n.path)).size).toBe(g.nodes.length);
    }
  });

  it('adds only tensors of one shape (shortcuts project whenever stride or width change)', () => {
    // Stages that start with '1' keep the width but still halve the resolution.
    for (const backbone of [
      { kind: 'resnet18', baseChannels: 64, blocks: '11-11-11-11' },
      { kind: 'resnet50', baseChannels: 48, blocks: '12-111-12-1' },
      { kind: 'resnext101_32x8d', baseChannels: 64, blocks: '1-1-1-1' },
      { kind: 'mobilenet_v2', baseChannels: 64, blocks: '1-1-21-1' },
      { kind: 'mobilenet_v2', baseChannels: 16, blocks: '21-211-2111211-2112' },
    ] as const) {
      for (const neck of [{ kind: 'c4' }, { kind: 'fpn', startLevel: 1, endLevel: 6, channels: 64, extraSource: 'c5' }] as const) {
        const g = buildGraph(arch({ backbone, neck, head: { kind: 'cascade_rcnn', stages: 2, channels: 64 } }), { input: { widthPx: 333, heightPx: 257 } });
        const adds = g.nodes.filter((n) => n.op === 'add');
        expect(adds.length).toBeGreaterThan(0);
        for (const n of adds) {
          for (const input of n.inputs) expect(g.nodes[input]!.shape).toEqual(n.shape);
        }
      }
    }
  });

  it('gives ResNet-50 levels at strides 2..32 with PyTorch conv arithmetic (1333x800)', () => {
    const g = buildGraph(arch({}));
    // floor((n + 2p - k) / s) + 1: 800 -> 400 -> 200 -> 100 -> 50 -> 25, 1333 -> 667 -> 334 -> 167 -> 84 -> 42.
    expect(byPath(g, 'backbone.stem.relu').shape).toEqual([64, 400, 667]);
    expect(byPath(g, 'backbone.stem.maxpool').shape).toEqual([64, 200, 334]);
    expect(byPath(g, 'backbone.stage1.block2.relu3').shape).toEqual([256, 200, 334]);
    expect(byPath(g, 'backbone.stage2.block3.relu3').shape).toEqual([512, 100, 167]);
    expect(byPath(g, 'backbone.stage3.block5.relu3').shape).toEqual([1024, 50, 84]);
    expect(byPath(g, 'backbone.stage4.block2.relu3').shape).toEqual([2048, 25, 42]);
    const features = outputsOf(g, 'features');
    expect([...features.keys()]).toEqual([2, 3, 4, 5, 6]);
    expect(features.get(6)!.shape).toEqual([256, 13, 21]);
    const p6 = features.get(6)!;
    // P6 reads C5 (add_extra_convs='on_input').
    expect(g.nodes[p6.inputs[0]!]!.path).toBe('backbone.stage4.block2.relu3');
  });

  it('resizes each FPN level to the exact shape of the one below', () => {
    const g = buildGraph(arch({ input: { widthPx: 1080, heightPx: 721 } }));
    const resizes = g.nodes.filter((n) => n.op === 'resize');
    expect(resizes).toHaveLength(3);
    for (const r of resizes) {
      const add = g.nodes.find((n) => n.op === 'add' && n.inputs.includes(r.id))!;
      const lateral = g.nodes[add.inputs[0]!]!;
      expect(r.shape).toEqual(lateral.shape);
    }
  });

  it('runs no backbone stage above the highest level the neck reads', () => {
    const fpn24 = buildGraph(arch({ neck: { kind: 'fpn', startLevel: 2, endLevel: 4, channels: 256, extraSource: 'c5' } }));
    expect(fpn24.nodes.some((n) => n.module === 'backbone.stage4')).toBe(false);
    expect(fpn24.nodes.some((n) => n.module === 'backbone.stage3')).toBe(true);
    const c4 = buildGraph(arch({ neck: { kind: 'c4' } }));
    expect(c4.nodes.some((n) => n.module === 'backbone.stage4')).toBe(false);
  });

  it('shares dense-head weights across levels: later levels point at the first level node', () => {
    for (const rpn of ['rpn', 'guided_anchoring'] as const) {
      const g = buildGraph(arch({ rpn }));
      const rpnNodes = g.nodes.filter((n) => n.module === 'rpn');
      const weighted = rpnNodes.filter((n) => 'weightsOf' in n);
      const owners = weighted.filter((n) => 'weightsOf' in n && n.weightsOf < 0);
      expect(owners.every((n) => n.path.startsWith('rpn.p2.'))).toBe(true);
      for (const n of weighted) {
        if (!('weightsOf' in n) || n.weightsOf < 0) continue;
        const owner = g.nodes[n.weightsOf]!;
        expect(owner.path).toBe(n.path.replace(/^rpn\.p\d/, 'rpn.p2'));
        expect(owner.op).toBe(n.op);
        expect({ ...owner, id: 0, path: '', inputs: [], shape: [], weightsOf: 0 }).toEqual({
          ...n, id: 0, path: '', inputs: [], shape: [], weightsOf: 0,
        });
      }
      // 5 levels x (conv + 2 outputs), or x (conv + loc + shape + offset + deform + cls + reg).
      expect(weighted).toHaveLength(5 * (rpn === 'rpn' ? 3 : 7));
    }
  });

  it('builds mmdetection RPN (3 anchors FPN, 15 C4) and guided anchoring outputs', () => {
    const fpn = buildGraph(arch({}));
    expect(fpn.outputs.filter((o) => o.role === 'rpn.cls').map((o) => fpn.nodes[o.node]!.shape[0])).toEqual([3, 3, 3, 3, 3]);
    expect(outputsOf(fpn, 'rpn.reg').get(4)!.shape).toEqual([12, 50, 84]);
    const c4 = buildGraph(arch({ neck: { kind: 'c4' } }));
    expect(outputsOf(c4, 'rpn.cls').get(4)!.shape).toEqual([15, 50, 84]);
    const ga = buildGraph(arch({ rpn: 'guided_anchoring' }));
    const deform = ga.nodes.filter((n) => n.op === 'deform_conv2d');
    expect(deform).toHaveLength(5);
    const d = deform[0]!;
    if (d.op !== 'deform_conv2d') throw new Error();
    expect([d.inChannels, d.outChannels, d.kernel, d.deformGroups, d.bias]).toEqual([256, 256, 3, 4, false]);
    expect(ga.nodes[d.inputs[1]!]!.shape[0]).toBe(72); // conv_offset: deform_groups 4 x 3 x 3 x 2
    expect(outputsOf(ga, 'rpn.shape').get(2)!.shape[0]).toBe(2);
    expect(outputsOf(ga, 'rpn.loc').get(2)!.shape[0]).toBe(1);
  });

  it('nodes carry their behaviour as flags set by the lowering, not in their names', () => {
    const flagsOf = (n: LayerNode) => ('flags' in n ? n.flags : undefined);
    const ga = buildGraph(arch({ rpn: 'guided_anchoring', head: { kind: 'cascade_rcnn', stages: 2, channels: 256 } }));
    const detached = ga.nodes.filter((n) => flagsOf(n)?.detachInput);
    expect(detached.map((n) => n.path)).toEqual([2, 3, 4, 5, 6].map((l) => `rpn.p${l}.conv_offset`));
    // Sigmoid classifiers start from the prior (GA-RPN's cls and loc), the rest at bias 0.
    const prior = new Set(ga.nodes.filter((n) => flagsOf(n)?.biasInit === 'prior_prob').map((n) => n.paramPath));
    expect([...prior].sort()).toEqual(['rpn.conv_cls', 'rpn.conv_loc']);
    expect(flagsOf(byPath(ga, 'head.stage2.fc_reg'))).toMatchObject({ weightInit: 'normal', std: 0.001 });
    expect(flagsOf(byPath(ga, 'head.stage2.fc1'))!.weightInit).toBe('xavier_uniform');
    expect(flagsOf(byPath(ga, 'neck.p2.lateral'))!.weightInit).toBe('xavier_uniform');
    expect(flagsOf(byPath(ga, 'backbone.stem.conv1'))!.weightInit).toBe('kaiming_normal_fan_out');
    for (const n of ga.nodes) expect(n.roiStage).toBe(n.module.startsWith('head.stage') ? Number(n.module.slice(-1)) : 0);
    // Parameter names leave out the level of heads shared across levels.
    expect(byPath(ga, 'rpn.p4.conv_cls').paramPath).toBe('rpn.conv_cls');
    expect(byPath(ga, 'neck.p4.lateral').paramPath).toBe('neck.p4.lateral');
    const retina = buildGraph(arch({ rpn: 'none', head: { kind: 'retinanet', stages: 0, channels: 256 } }));
    expect(flagsOf(byPath(retina, 'head.p3.retina_cls'))!.biasInit).toBe('prior_prob');
    expect(flagsOf(byPath(retina, 'head.p3.retina_reg'))).toMatchObject({ weightInit: 'normal', std: 0.01, biasInit: 'zero' });
    // Its towers (no normalisation) start as the backbone does.
    const towers = retina.nodes.filter((n) => /^head\.p3\.(cls|reg)_conv\d\.conv$/.test(n.path));
    expect(towers).toHaveLength(8);
    for (const t of towers) expect(flagsOf(t)!.weightInit).toBe('kaiming_normal_fan_out');
  });

  it('RoI heads: per-RoI nodes only in head.stageN, RoIAlign over P_s..P_min(e,5)', () => {
    const g = buildGraph(arch({ head: { kind: 'cascade_rcnn', stages: 3, channels: 256 } }));
    for (const n of g.nodes) expect(n.perRoi).toBe(n.module.startsWith('head.stage'));
    const rois = g.nodes.filter((n) => n.op === 'roi_align');
    expect(rois).toHaveLength(3);
    const roi = rois[0]!;
    if (roi.op !== 'roi_align') throw new Error();
    const features = outputsOf(g, 'features');
    expect(roi.inputs).toEqual([2, 3, 4, 5].map((l) => features.get(l)!.id));
    expect(roi.spatialScales).toEqual([1 / 4, 1 / 8, 1 / 16, 1 / 32]);
    expect([roi.outputSize, roi.samplingRatio, roi.finestScale]).toEqual([7, 0, 56]);
    expect(roi.shape).toEqual([256, 7, 7]);
    // Cascade: class-agnostic boxes; Faster R-CNN: class-specific.
    expect(outputsOf(g, 'head.reg').get(3)!.shape[0]).toBe(4);
    expect(outputsOf(g, 'head.cls').get(3)!.shape[0]).toBe(81);
    const faster = buildGraph(arch({}));
    expect(outputsOf(faster, 'head.reg').get(1)!.shape[0]).toBe(320);
  });

  it('C4 heads run a copy of stage 4 on 14x14 RoIs down to 7x7', () => {
    const g = buildGraph(arch({ neck: { kind: 'c4' }, head: { kind: 'cascade_rcnn', stages: 2, channels: 256 } }));
    const roi = byPath(g, 'head.stage2.roi_align');
    expect(roi.shape).toEqual([1024, 14, 14]);
    expect(byPath(g, 'head.stage2.shared_head.block0.conv2').shape).toEqual([512, 7, 7]);
    expect(byPath(g, 'head.stage2.shared_head.block2.relu3').shape).toEqual([2048, 7, 7]);
    expect(byPath(g, 'head.stage2.fc_cls').shape).toEqual([81, 1, 1]);
  });

  it('MobileNetV2 follows torchvision: make_divisible widths, residuals only at stride 1 and equal widths', () => {
    // torchvision _make_divisible reference values.
    expect([32 * 0.75, 16 * 0.75, 24 * 0.75, 1280 * 1.5, 37].map((v) => makeDivisible(v))).toEqual([24, 16, 24, 1920, 40]);
    const g = buildGraph(arch({ backbone: standardBackbone('mobilenet_v2') }), { form: 'classification', input: { widthPx: 224, heightPx: 224 } });
    const widths = [1, 2, 3, 4].map((s) => g.nodes.filter((n) => n.module === `backbone.stage${s}` && n.path.endsWith('project_norm')).map((n) => n.shape[0]));
    expect(widths).toEqual([[24, 24], [32, 32, 32], [64, 64, 64, 64, 96, 96, 96], [160, 160, 160, 320]]);
    expect(g.nodes.filter((n) => n.op === 'add')).toHaveLength(10); // torchvision: 1 + 2 + 3 + 2 + 2
    expect(byPath(g, 'backbone.classifier.conv').shape).toEqual([1280, 7, 7]);
  });

  it('passes the backbone norm kind through, and only to the backbone', () => {
    const g = buildGraph(arch({ neck: { kind: 'c4' }, backbone: standardBackbone('mobilenet_v2') }), { norm: 'group_norm' });
    const norms = g.nodes.filter((n) => n.op === 'norm');
    expect(norms.length).toBeGreaterThan(0);
    for (const n of norms) {
      if (n.op !== 'norm') throw new Error();
      expect(n.kind).toBe('group_norm');
      expect(n.channels % n.groups).toBe(0);
      expect(n.module.startsWith('backbone') || n.path.includes('shared_head')).toBe(true);
    }
  });

  it('rejects what it cannot build', () => {
    const sink = new GraphBuilder();
    const bad = (a: Architecture): (() => void) => () => lower(a, {}, sink);
    expect(bad(arch({ backbone: { kind: 'resnet50', baseChannels: 64, blocks: '111-2111-211111' } }))).toThrow(RangeError);
    expect(bad(arch({ backbone: { kind: 'resnet50', baseChannels: 64, blocks: '111-2111--211' } }))).toThrow(RangeError);
    expect(bad(arch({ backbone: { kind: 'resnet50', baseChannels: 64, blocks: '113-2111-2111-211' } }))).toThrow(RangeError);
    expect(bad(arch({ backbone: { kind: 'mobilenet_v2', baseChannels: 64, blocks: '22-22-22-2' } }))).toThrow(/320/);
    expect(bad(arch({ neck: { kind: 'fpn', startLevel: 3, endLevel: 3, channels: 256, extraSource: 'c5' } }))).toThrow(RangeError);
    expect(bad(arch({ neck: { kind: 'fpn', startLevel: 2, endLevel: 8, channels: 256, extraSource: 'c5' } }))).toThrow(RangeError);
    expect(bad(arch({ neck: { kind: 'fpn', startLevel: 6, endLevel: 7, channels: 256, extraSource: 'c5' } }))).toThrow(RangeError);
    expect(bad(arch({ neck: { kind: 'fpn', startLevel: 3, endLevel: 5, channels: 256, extraSource: 'p5' } }))).toThrow(/end_level 6 or 7/);
    expect(bad(arch({ rpn: 'none' }))).toThrow(RangeError);
    expect(bad(arch({ input: { widthPx: 0, heightPx: 800 } }))).toThrow(RangeError);
    expect(bad(arch({ input: { widthPx: 800.5, heightPx: 800 } }))).toThrow(RangeError);
    expect(bad(arch({ head: { kind: 'retinanet', stages: 0, channels: 256 } }))).toThrow(RangeError);
    expect(bad(arch({ head: { kind: 'cascade_rcnn', stages: 5, channels: 256 } }))).toThrow(RangeError);
    expect(sink.nodes).toHaveLength(0); // nothing is emitted before the checks
    // A failed lowering leaves the lowerer usable.
    expect(buildGraph(arch({})).nodes.length).toBeGreaterThan(0);
  });
});
