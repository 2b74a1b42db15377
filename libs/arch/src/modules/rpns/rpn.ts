// mmdetection's RPNHead: a 3x3 conv + ReLU, then objectness (A channels) and deltas (4A) per level,
// weights shared across levels; 3 anchors per location with an FPN, 5 scales x 3 ratios on C4.

import type { RpnFamily } from '../family.js';
import { LAYER_FLAGS } from '../../graph/sink.js';

/** mmdetection RPNHead anchors per location: 3 ratios with FPN; 5 scales x 3 ratios with C4. */
export const RPN_ANCHORS_FPN = 3;
export const RPN_ANCHORS_C4 = 15;

export const RPN: RpnFamily = {
  lower(ctx, lo, hi) {
    const anchors = ctx.singleLevelNeck ? RPN_ANCHORS_C4 : RPN_ANCHORS_FPN;
    const s = ctx.sink;
    ctx.begin('rpn', 0, LAYER_FLAGS.head);
    ctx.sharedLevels(lo, hi, (l) => {
      const x = ctx.feature(l);
      const f = ctx.act('relu', ctx.conv('conv', x, ctx.channels(x), 3, 1, 1, 1, true), 'relu');
      s.output('rpn.cls', l, ctx.conv('cls', f, anchors, 1, 1, 0, 1, true));
      s.output('rpn.reg', l, ctx.conv('reg', f, anchors * 4, 1, 1, 0, 1, true));
    });
  },
};
