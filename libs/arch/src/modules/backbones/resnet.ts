// torchvision's ResNet and ResNeXt (resnet.py): BasicBlock or Bottleneck (v1.5, stride on the 3x3,
// ResNeXt groups), a 7x7/2 stem and max pool, and their weight names:
//   backbone.stem.conv1 ↔ conv1, backbone.stem.bn1 ↔ bn1,
//   backbone.stage<s>.block<b>.<conv|bn><i> ↔ layer<s>.<b>.<conv|bn><i>,
//   …downsample.conv ↔ …downsample.0, …downsample.norm ↔ …downsample.1, backbone.classifier.fc ↔ fc.

import { LAYER_FLAGS } from '../../graph/sink.js';
import type { BackboneFamily, LoweringContext } from '../family.js';
import { blockBounds } from './bounds.js';

/** ResNet/ResNeXt: at most 4 doublings (torchvision has 3: 64 -> 512 planes; a fourth reaches 1024). */
export const MAX_DOUBLINGS_RESNET = 4;

const CHAR_2 = 50; // '2'

const TO_TORCHVISION: Array<[RegExp, (m: RegExpMatchArray) => string]> = [
  [/^backbone\.stem\.(conv1|bn1)\.(\w+)$/, (m) => `${m[1]}.${m[2]}`],
  [/^backbone\.stage(\d)\.block(\d+)\.(conv\d|bn\d)\.(\w+)$/, (m) => `layer${m[1]}.${m[2]}.${m[3]}.${m[4]}`],
  [/^backbone\.stage(\d)\.block(\d+)\.downsample\.(conv|norm)\.(\w+)$/, (m) => `layer${m[1]}.${m[2]}.downsample.${m[3] === 'conv' ? 0 : 1}.${m[4]}`],
  [/^backbone\.classifier\.fc\.(\w+)$/, (m) => `fc.${m[1]}`],
];

const FROM_TORCHVISION: Array<[RegExp, (m: RegExpMatchArray) => string]> = [
  [/^(conv1|bn1)\.(\w+)$/, (m) => `backbone.stem.${m[1]}.${m[2]}`],
  [/^layer(\d)\.(\d+)\.(conv\d|bn\d)\.(\w+)$/, (m) => `backbone.stage${m[1]}.block${m[2]}.${m[3]}.${m[4]}`],
  [/^layer(\d)\.(\d+)\.downsample\.([01])\.(\w+)$/, (m) => `backbone.stage${m[1]}.block${m[2]}.downsample.${m[3] === '0' ? 'conv' : 'norm'}.${m[4]}`],
  [/^fc\.(\w+)$/, (m) => `backbone.classifier.fc.${m[1]}`],
];

function translate(table: Array<[RegExp, (m: RegExpMatchArray) => string]>, name: string): string | undefined {
  for (const [re, f] of table) {
    const m = name.match(re);
    if (m) return f(m);
  }
  return undefined;
}

/** Identity, or torchvision's downsample (conv1x1 with the stride, no bias, + norm). */
function shortcut(ctx: LoweringContext, x: number, out: number, stride: number): number {
  if (stride === 1 && ctx.channels(x) === out) return x;
  return ctx.norm('downsample.norm', ctx.conv('downsample.conv', x, out, 1, stride, 0, 1, false));
}

/** torchvision resnet.py BasicBlock (expansion 1). */
function basicBlock(ctx: LoweringContext, x: number, planes: number, stride: number): number {
  let y = ctx.conv('conv1', x, planes, 3, stride, 1, 1, false);
  y = ctx.act('relu1', ctx.norm('bn1', y), 'relu');
  y = ctx.norm('bn2', ctx.conv('conv2', y, planes, 3, 1, 1, 1, false));
  return ctx.act('relu2', ctx.add('add', y, shortcut(ctx, x, planes, stride)), 'relu');
}

/** torchvision resnet.py Bottleneck (v1.5: stride on the 3x3; expansion 4; ResNeXt groups). */
function bottleneckBlock(ctx: LoweringContext, x: number, planes: number, stride: number, groups: number, widthPerGroup: number): number {
  const width = Math.floor((planes * widthPerGroup) / 64) * groups;
  let y = ctx.conv('conv1', x, width, 1, 1, 0, 1, false);
  y = ctx.act('relu1', ctx.norm('bn1', y), 'relu');
  y = ctx.conv('conv2', y, width, 3, stride, 1, groups, false);
  y = ctx.act('relu2', ctx.norm('bn2', y), 'relu');
  y = ctx.norm('bn3', ctx.conv('conv3', y, planes * 4, 1, 1, 0, 1, false));
  return ctx.act('relu3', ctx.add('add', y, shortcut(ctx, x, planes * 4, stride)), 'relu');
}

/** A ResNet family member: its block, its ResNeXt cardinality and width per group, its torchvision depth. */
export function resnetFamily(block: 'basic' | 'bottleneck', standardBlocks: string, groups = 1, widthPerGroup = 64): BackboneFamily {
  return {
    blockType: block,
    standardBlocks,
    bounds: blockBounds(MAX_DOUBLINGS_RESNET),
    stem(ctx, input) {
      let cur = ctx.conv('conv1', input, ctx.base, 7, 2, 3, 1, false);
      cur = ctx.act('relu', ctx.norm('bn1', cur), 'relu');
      return { c1: cur, out: ctx.maxPool('maxpool', cur, 3, 2, 1) };
    },
    stage(ctx, x, stage) {
      const s = ctx.sink;
      const begin = ctx.stageBegin(stage);
      const end = ctx.stageEnd(stage);
      let planes = ctx.base * 2 ** ctx.twosBefore(stage);
      for (let i = begin; i < end; i++) {
        if (ctx.blocks.charCodeAt(i) === CHAR_2) planes *= 2;
        const stride = i === begin && stage > 0 ? 2 : 1;
        s.enterScope('block', i - begin);
        x = block === 'bottleneck' ? bottleneckBlock(ctx, x, planes, stride, groups, widthPerGroup) : basicBlock(ctx, x, planes, stride);
        s.exitScope();
      }
      return x;
    },
    classifier(ctx, c5) {
      return ctx.linear('fc', ctx.flatten('flatten', ctx.globalAvgPool('avgpool', c5)), ctx.numClasses, LAYER_FLAGS.head);
    },
    toTorchvisionName: (_backbone, name) => translate(TO_TORCHVISION, name),
    fromTorchvisionName: (_backbone, key) => translate(FROM_TORCHVISION, key),
  };
}

export const RESNET18 = resnetFamily('basic', '11-21-21-21');
// ResNet-34 and ResNet-50 share a string: they differ in the block type, not in depth per stage.
export const RESNET34 = resnetFamily('basic', '111-2111-211111-211');
export const RESNET50 = resnetFamily('bottleneck', '111-2111-211111-211');
export const RESNET101 = resnetFamily('bottleneck', '111-2111-2' + '1'.repeat(22) + '-211');
export const RESNEXT50_32X4D = resnetFamily('bottleneck', '111-2111-211111-211', 32, 4);
// torchvision's ResNeXt-101 (32 groups of width 8): the one whose classification form we can check
// against torchvision to the unit.
export const RESNEXT101_32X8D = resnetFamily('bottleneck', '111-2111-2' + '1'.repeat(22) + '-211', 32, 8);
