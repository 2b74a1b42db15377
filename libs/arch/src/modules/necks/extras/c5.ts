// P6 from the backbone's C5: mmdetection's add_extra_convs='on_input' and torchvision's
// LastLevelP6P7(2048, 256) (retinanet_resnet50_fpn_v2).

import type { FpnExtraSourceFamily } from '../../family.js';

export const FROM_C5: FpnExtraSourceFamily = {
  p6: (ctx, { channels }) => ctx.conv('output', ctx.level(5), channels, 3, 2, 1, 1, true),
};
