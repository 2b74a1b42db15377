// P6 from the pyramid's P5: torchvision's LastLevelP6P7(256, 256), the extra levels of
// retinanet_resnet50_fpn and fcos_resnet50_fpn (mmdetection's add_extra_convs='on_output').

import type { FpnExtraSourceFamily } from '../../family.js';

export const FROM_P5: FpnExtraSourceFamily = {
  unusableWith: (neck) => (neck.endLevel < 6 ? 'p5 is the source of P6 and P7: it needs end_level 6 or 7' : undefined),
  p6: (ctx, { channels }) => ctx.conv('output', ctx.feature(5), channels, 3, 2, 1, 1, true),
};
