// mmdetection's GARPNHead (GuidedAnchorHead with an RPN conv; one anchor per location): location
// and shape branches, a FeatureAdaption (deformable 3x3 whose offsets come from the detached shape
// prediction), then objectness and deltas.

import type { RpnFamily } from '../family.js';
import { LAYER_FLAGS } from '../../graph/sink.js';

/** mmdetection GuidedAnchorHead / GARPNHead FeatureAdaption deform_groups. */
export const GA_DEFORM_GROUPS = 4;

export const GUIDED_ANCHORING: RpnFamily = {
  lower(ctx, lo, hi) {
    const s = ctx.sink;
    ctx.begin('rpn', 0, LAYER_FLAGS.head);
    ctx.sharedLevels(lo, hi, (l) => {
      const x = ctx.feature(l);
      const c = ctx.channels(x);
      const f = ctx.act('relu', ctx.conv('conv', x, c, 3, 1, 1, 1, true), 'relu');
      s.output('rpn.loc', l, ctx.conv('conv_loc', f, 1, 1, 1, 0, 1, true, LAYER_FLAGS.classifier));
      const shape = ctx.conv('conv_shape', f, 2, 1, 1, 0, 1, true);
      s.output('rpn.shape', l, shape);
      const k = 3;
      const offset = ctx.conv('conv_offset', shape, GA_DEFORM_GROUPS * k * k * 2, 1, 1, 0, 1, false, LAYER_FLAGS.detachedOffset);
      const h = ctx.height(f);
      const w = ctx.width(f);
      const adapt = ctx.alloc(c, h, w);
      s.deformConv2d(adapt, 'conv_adaption', f, offset, c, c, k, 1, 1, 1, 1, GA_DEFORM_GROUPS, false, h, w, ctx.owner(adapt), LAYER_FLAGS.head);
      const a = ctx.act('adaption_relu', adapt, 'relu');
      s.output('rpn.cls', l, ctx.conv('conv_cls', a, 1, 1, 1, 0, 1, true, LAYER_FLAGS.classifier));
      s.output('rpn.reg', l, ctx.conv('conv_reg', a, 4, 1, 1, 0, 1, true));
    });
  },
};
