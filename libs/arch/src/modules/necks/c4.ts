// Single-level C4 features (stride 16), as Faster R-CNN C4: stage 4 does not run on the image, the
// R-CNN heads run a copy of it per RoI.

import type { C4Neck } from '../../architecture.js';
import type { NeckFamily } from '../family.js';

export const C4: NeckFamily<C4Neck> = {
  check() {},
  backboneStages: () => 3,
  lower(ctx) {
    ctx.setFeature(4, ctx.level(4));
    ctx.sink.output('features', 4, ctx.level(4));
    return { lo: 4, hi: 4 };
  },
};
