import { describe, expect, it } from 'vitest';
import { BACKBONE_KINDS, FPN_EXTRA_SOURCE_KINDS, HEAD_KINDS, RPN_KINDS } from '../architecture.js';
import { blockTypeOf, STANDARD_BLOCKS } from '../defaults.js';
import { buildGraph } from '../graph/graph.js';
import { blockBoundsOf, HEAD_STAGES, RPNS_FOR_HEAD } from '../space.js';
import { BACKBONES, HEADS, NECKS, RPNS } from './registry.js';

describe('the module registry', () => {
  it('is where the kinds come from, in registration order', () => {
    expect(BACKBONE_KINDS).toEqual(Object.keys(BACKBONES));
    expect(RPN_KINDS).toEqual(['none', 'rpn', 'guided_anchoring']);
    expect(HEAD_KINDS).toEqual(['retinanet', 'faster_rcnn', 'cascade_rcnn', 'fcos']);
    expect(Object.keys(NECKS)).toEqual(['c4', 'fpn']);
    expect(FPN_EXTRA_SOURCE_KINDS).toEqual(['c5', 'p5']);
    expect(Object.keys(RPNS)).toEqual([...RPN_KINDS]);
  });

  it('gives the defaults and the spaces their per-family facts', () => {
    for (const kind of BACKBONE_KINDS) {
      expect(STANDARD_BLOCKS[kind]).toBe(BACKBONES[kind].standardBlocks);
      expect(blockTypeOf(kind)).toBe(BACKBONES[kind].blockType);
      expect(blockBoundsOf(kind)).toBe(BACKBONES[kind].bounds);
    }
    for (const kind of HEAD_KINDS) {
      expect(HEAD_STAGES[kind]).toBe(HEADS[kind].stages);
      expect(RPNS_FOR_HEAD[kind]).toBe(HEADS[kind].rpns);
    }
  });

  it('lowers each backbone with its family: the standard blocks build torchvision-named parameters', () => {
    for (const kind of BACKBONE_KINDS) {
      const backbone = { kind, baseChannels: 64, blocks: BACKBONES[kind].standardBlocks };
      const g = buildGraph(
        { backbone, neck: { kind: 'c4' }, rpn: 'none', head: { kind: 'retinanet', stages: 0, channels: 256 }, input: { widthPx: 224, heightPx: 224 } },
        { form: 'classification' },
      );
      const named = g.nodes.filter((n) => n.op === 'conv2d' || n.op === 'linear');
      for (const n of named) expect(BACKBONES[kind].toTorchvisionName(backbone, `${n.paramPath}.weight`), n.paramPath).toBeDefined();
    }
  });
});
