// torchvision's MobileNetV2 (mobilenetv2.py): InvertedResidual blocks on a width ladder, a width
// multiplier = base_channels / 64, and its weight names (features.<j> counts blocks through the whole
// network, the stem's t=1 block is 1):
//   backbone.stem.conv/norm ↔ features.0.0/1; t=1 block: depthwise ↔ conv.0.0, depthwise_norm ↔ conv.0.1,
//   project ↔ conv.1, project_norm ↔ conv.2; other blocks: expand ↔ conv.0.0, expand_norm ↔ conv.0.1,
//   depthwise ↔ conv.1.0, depthwise_norm ↔ conv.1.1, project ↔ conv.2, project_norm ↔ conv.3;
//   backbone.classifier.conv/norm ↔ features.<last>.0/1, backbone.classifier.fc ↔ classifier.1.

import type { Backbone } from '../../architecture.js';
import { LAYER_FLAGS } from '../../graph/sink.js';
import type { BackboneFamily, LoweringContext } from '../family.js';
import { blockBounds } from './bounds.js';

/** torchvision's `_make_divisible(v, 8)` (MobileNetV2 widths). */
export function makeDivisible(v: number, divisor = 8): number {
  let n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

/** torchvision's MobileNetV2 widths after the t=1 block (16), before the width multiplier. */
export const MOBILENET_V2_LADDER: readonly number[] = [24, 32, 64, 96, 160, 320];

/** MobileNetV2: at most 6 doublings, the rungs of its width ladder. */
export const MAX_DOUBLINGS_MOBILENET_V2 = MOBILENET_V2_LADDER.length;

const CHAR_2 = 50; // '2'

/** torchvision mobilenetv2.py InvertedResidual. */
function invertedResidual(ctx: LoweringContext, x: number, out: number, stride: number, expand: number): number {
  const inC = ctx.channels(x);
  const hidden = inC * expand;
  let y = x;
  if (expand !== 1) {
    y = ctx.conv('expand', y, hidden, 1, 1, 0, 1, false);
    y = ctx.act('expand_act', ctx.norm('expand_norm', y), 'relu6');
  }
  y = ctx.conv('depthwise', y, hidden, 3, stride, 1, hidden, false);
  y = ctx.act('depthwise_act', ctx.norm('depthwise_norm', y), 'relu6');
  y = ctx.norm('project_norm', ctx.conv('project', y, out, 1, 1, 0, 1, false));
  return stride === 1 && inC === out ? ctx.add('add', y, x) : y;
}

const T1: Record<string, string> = { depthwise: 'conv.0.0', depthwise_norm: 'conv.0.1', project: 'conv.1', project_norm: 'conv.2' };
const BLOCK: Record<string, string> = {
  expand: 'conv.0.0', expand_norm: 'conv.0.1', depthwise: 'conv.1.0', depthwise_norm: 'conv.1.1', project: 'conv.2', project_norm: 'conv.3',
};

function stageLengths(backbone: Backbone): number[] {
  return backbone.blocks.split('-').map((s) => s.length);
}

function toTorchvisionName(backbone: Backbone, name: string): string | undefined {
  const lengths = stageLengths(backbone);
  const last = 2 + lengths.reduce((a, b) => a + b, 0);
  let m = name.match(/^backbone\.stem\.(conv|norm)\.(\w+)$/);
  if (m) return `features.0.${m[1] === 'conv' ? 0 : 1}.${m[2]}`;
  m = name.match(/^backbone\.stem\.block0\.(\w+)\.(\w+)$/);
  if (m) return T1[m[1]!] ? `features.1.${T1[m[1]!]}.${m[2]}` : undefined;
  m = name.match(/^backbone\.stage(\d)\.block(\d+)\.(\w+)\.(\w+)$/);
  if (m) {
    const s = Number(m[1]) - 1;
    const j = 2 + lengths.slice(0, s).reduce((a, b) => a + b, 0) + Number(m[2]);
    return BLOCK[m[3]!] ? `features.${j}.${BLOCK[m[3]!]}.${m[4]}` : undefined;
  }
  m = name.match(/^backbone\.classifier\.(conv|norm|fc)\.(\w+)$/);
  if (m) return m[1] === 'fc' ? `classifier.1.${m[2]}` : `features.${last}.${m[1] === 'conv' ? 0 : 1}.${m[2]}`;
  return undefined;
}

function fromTorchvisionName(backbone: Backbone, key: string): string | undefined {
  const lengths = stageLengths(backbone);
  const last = 2 + lengths.reduce((a, b) => a + b, 0);
  const invert = (table: Record<string, string>, rest: string): string | undefined => {
    for (const [ours, theirs] of Object.entries(table)) if (rest.startsWith(`${theirs}.`)) return `${ours}.${rest.slice(theirs.length + 1)}`;
    return undefined;
  };
  let m = key.match(/^features\.(\d+)\.(.+)$/);
  if (m) {
    const j = Number(m[1]);
    const rest = m[2]!;
    if (j === 0 || j === last) {
      const mm = rest.match(/^([01])\.(\w+)$/);
      if (!mm) return undefined;
      return `backbone.${j === 0 ? 'stem' : 'classifier'}.${mm[1] === '0' ? 'conv' : 'norm'}.${mm[2]}`;
    }
    if (j === 1) {
      const r = invert(T1, rest);
      return r && `backbone.stem.block0.${r}`;
    }
    let b = j - 2;
    for (let s = 0; s < lengths.length; s++) {
      if (b < lengths[s]!) {
        const r = invert(BLOCK, rest);
        return r && `backbone.stage${s + 1}.block${b}.${r}`;
      }
      b -= lengths[s]!;
    }
    return undefined;
  }
  m = key.match(/^classifier\.1\.(\w+)$/);
  if (m) return `backbone.classifier.fc.${m[1]}`;
  return undefined;
}

export const MOBILENET_V2: BackboneFamily = {
  blockType: 'inverted_residual',
  // torchvision's inverted-residual setting after the t=1 block: 24x2 | 32x3 | 64x4, 96x3 | 160x3, 320x1
  standardBlocks: '21-211-2111211-2112',
  bounds: blockBounds(MAX_DOUBLINGS_MOBILENET_V2),
  maxBuildableDoublings: { count: MOBILENET_V2_LADDER.length, reason: 'climbs past 320 channels' },
  stem(ctx, input) {
    // torchvision mobilenetv2.py: features[0] (conv 3x3/2 + BN + ReLU6) and features[1] (t=1).
    const wm = ctx.base / 64;
    let cur = ctx.conv('conv', input, makeDivisible(32 * wm), 3, 2, 1, 1, false);
    cur = ctx.act('relu6', ctx.norm('norm', cur), 'relu6');
    ctx.sink.enterScope('block', 0);
    cur = invertedResidual(ctx, cur, makeDivisible(16 * wm), 1, 1);
    ctx.sink.exitScope();
    return { c1: cur, out: cur };
  },
  stage(ctx, x, stage) {
    const wm = ctx.base / 64;
    const begin = ctx.stageBegin(stage);
    const end = ctx.stageEnd(stage);
    let rung = ctx.twosBefore(stage) - 1;
    for (let i = begin; i < end; i++) {
      if (ctx.blocks.charCodeAt(i) === CHAR_2) rung++;
      const out = rung < 0 ? makeDivisible(16 * wm) : makeDivisible(MOBILENET_V2_LADDER[rung]! * wm);
      ctx.sink.enterScope('block', i - begin);
      x = invertedResidual(ctx, x, out, i === begin ? 2 : 1, 6);
      ctx.sink.exitScope();
    }
    return x;
  },
  classifier(ctx, c5) {
    // The last conv 1x1 → 1280 (wider with the multiplier, never narrower), pool, fc.
    const last = makeDivisible(1280 * Math.max(1, ctx.base / 64));
    const x = ctx.act('relu6', ctx.norm('norm', ctx.conv('conv', c5, last, 1, 1, 0, 1, false)), 'relu6');
    return ctx.linear('fc', ctx.flatten('flatten', ctx.globalAvgPool('avgpool', x)), ctx.numClasses, LAYER_FLAGS.head);
  },
  toTorchvisionName,
  fromTorchvisionName,
};
