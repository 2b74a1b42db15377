// Parameter names of the backbone ↔ torchvision's state-dict keys, so ImageNet-pretrained weights
// load into `setWeights` and our checkpoints read as torchvision backbones.
//
// ResNet/ResNeXt: backbone.stem.conv1 ↔ conv1, backbone.stem.bn1 ↔ bn1,
//   backbone.stage<s>.block<b>.<conv|bn><i> ↔ layer<s>.<b>.<conv|bn><i>,
//   …downsample.conv ↔ …downsample.0, …downsample.norm ↔ …downsample.1, backbone.classifier.fc ↔ fc.
// MobileNetV2 (features.<j> counts blocks through the whole network, the stem's t=1 block is 1):
//   backbone.stem.conv/norm ↔ features.0.0/1; t=1 block: depthwise ↔ conv.0.0, depthwise_norm ↔ conv.0.1,
//   project ↔ conv.1, project_norm ↔ conv.2; other blocks: expand ↔ conv.0.0, expand_norm ↔ conv.0.1,
//   depthwise ↔ conv.1.0, depthwise_norm ↔ conv.1.1, project ↔ conv.2, project_norm ↔ conv.3;
//   backbone.classifier.conv/norm ↔ features.<last>.0/1, backbone.classifier.fc ↔ classifier.1.

import type { Backbone } from '@sm-nas/arch';

const RESNET: Array<[RegExp, (m: RegExpMatchArray) => string]> = [
  [/^backbone\.stem\.(conv1|bn1)\.(\w+)$/, (m) => `${m[1]}.${m[2]}`],
  [/^backbone\.stage(\d)\.block(\d+)\.(conv\d|bn\d)\.(\w+)$/, (m) => `layer${m[1]}.${m[2]}.${m[3]}.${m[4]}`],
  [/^backbone\.stage(\d)\.block(\d+)\.downsample\.(conv|norm)\.(\w+)$/, (m) => `layer${m[1]}.${m[2]}.downsample.${m[3] === 'conv' ? 0 : 1}.${m[4]}`],
  [/^backbone\.classifier\.fc\.(\w+)$/, (m) => `fc.${m[1]}`],
];

const RESNET_BACK: Array<[RegExp, (m: RegExpMatchArray) => string]> = [
  [/^(conv1|bn1)\.(\w+)$/, (m) => `backbone.stem.${m[1]}.${m[2]}`],
  [/^layer(\d)\.(\d+)\.(conv\d|bn\d)\.(\w+)$/, (m) => `backbone.stage${m[1]}.block${m[2]}.${m[3]}.${m[4]}`],
  [/^layer(\d)\.(\d+)\.downsample\.([01])\.(\w+)$/, (m) => `backbone.stage${m[1]}.block${m[2]}.downsample.${m[3] === '0' ? 'conv' : 'norm'}.${m[4]}`],
  [/^fc\.(\w+)$/, (m) => `backbone.classifier.fc.${m[1]}`],
];

const MOBILE_T1: Record<string, string> = { depthwise: 'conv.0.0', depthwise_norm: 'conv.0.1', project: 'conv.1', project_norm: 'conv.2' };
const MOBILE: Record<string, string> = {
  expand: 'conv.0.0', expand_norm: 'conv.0.1', depthwise: 'conv.1.0', depthwise_norm: 'conv.1.1', project: 'conv.2', project_norm: 'conv.3',
};

function stageLengths(backbone: Backbone): number[] {
  return backbone.blocks.split('-').map((s) => s.length);
}

/** torchvision's state-dict key of a backbone parameter, or undefined (necks, heads). */
export function toTorchvisionName(backbone: Backbone, name: string): string | undefined {
  if (backbone.kind !== 'mobilenet_v2') {
    for (const [re, f] of RESNET) {
      const m = name.match(re);
      if (m) return f(m);
    }
    return undefined;
  }
  const lengths = stageLengths(backbone);
  const last = 2 + lengths.reduce((a, b) => a + b, 0);
  let m = name.match(/^backbone\.stem\.(conv|norm)\.(\w+)$/);
  if (m) return `features.0.${m[1] === 'conv' ? 0 : 1}.${m[2]}`;
  m = name.match(/^backbone\.stem\.block0\.(\w+)\.(\w+)$/);
  if (m) return MOBILE_T1[m[1]!] ? `features.1.${MOBILE_T1[m[1]!]}.${m[2]}` : undefined;
  m = name.match(/^backbone\.stage(\d)\.block(\d+)\.(\w+)\.(\w+)$/);
  if (m) {
    const s = Number(m[1]) - 1;
    const j = 2 + lengths.slice(0, s).reduce((a, b) => a + b, 0) + Number(m[2]);
    return MOBILE[m[3]!] ? `features.${j}.${MOBILE[m[3]!]}.${m[4]}` : undefined;
  }
  m = name.match(/^backbone\.classifier\.(conv|norm|fc)\.(\w+)$/);
  if (m) return m[1] === 'fc' ? `classifier.1.${m[2]}` : `features.${last}.${m[1] === 'conv' ? 0 : 1}.${m[2]}`;
  return undefined;
}

/** Our parameter name of a torchvision state-dict key (inverse of `toTorchvisionName`). */
export function fromTorchvisionName(backbone: Backbone, key: string): string | undefined {
  if (backbone.kind !== 'mobilenet_v2') {
    for (const [re, f] of RESNET_BACK) {
      const m = key.match(re);
      if (m) return f(m);
    }
    return undefined;
  }
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
      const r = invert(MOBILE_T1, rest);
      return r && `backbone.stem.block0.${r}`;
    }
    let b = j - 2;
    for (let s = 0; s < lengths.length; s++) {
      if (b < lengths[s]!) {
        const r = invert(MOBILE, rest);
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
