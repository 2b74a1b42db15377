// Parameter names of the backbone ↔ torchvision's state-dict keys, so ImageNet-pretrained weights
// load into `setWeights` and our checkpoints read as torchvision backbones. Each backbone family
// holds its own names (libs/arch/src/modules/backbones/*.ts); this looks the family up.

import { BACKBONES, type Backbone } from '@sm-nas/arch';

/** torchvision's state-dict key of a backbone parameter, or undefined (necks, heads). */
export function toTorchvisionName(backbone: Backbone, name: string): string | undefined {
  return BACKBONES[backbone.kind].toTorchvisionName(backbone, name);
}

/** Our parameter name of a torchvision state-dict key (inverse of `toTorchvisionName`). */
export function fromTorchvisionName(backbone: Backbone, key: string): string | undefined {
  return BACKBONES[backbone.kind].fromTorchvisionName(backbone, key);
}
