// mmdetection's RetinaHead: two 4-conv towers (ReLU, no norm; initialised as the backbone is, see
// LAYER_FLAGS.tower), 9 anchors (3 octave scales x 3 ratios), sigmoid classes (A*K channels) and
// deltas (A*4), weights shared across levels.

import { LAYER_FLAGS } from '../../graph/sink.js';
import type { HeadFamily } from '../family.js';

/** mmdetection RetinaHead: 3 octave scales x 3 ratios. */
export const RETINA_ANCHORS = 9;

export const RETINANET: HeadFamily = {
  stages: [0],
  defaultStages: 0,
  // One-stage: an RPN in front of it would only add cost.
  rpns: ['none'],
  rpnRule: 'retinanet is one-stage and takes no proposals',
  lower(ctx, { channels }, lo, hi) {
    const s = ctx.sink;
    const k = ctx.numClasses;
    ctx.begin('head', 0, LAYER_FLAGS.head);
    ctx.sharedLevels(lo, hi, (l) => {
      const x = ctx.feature(l);
      let cls = x;
      for (let i = 0; i < 4; i++) {
        s.enterScope('cls_conv', i);
        cls = ctx.act('relu', ctx.conv('conv', cls, channels, 3, 1, 1, 1, true, LAYER_FLAGS.tower), 'relu');
        s.exitScope();
      }
      let reg = x;
      for (let i = 0; i < 4; i++) {
        s.enterScope('reg_conv', i);
        reg = ctx.act('relu', ctx.conv('conv', reg, channels, 3, 1, 1, 1, true, LAYER_FLAGS.tower), 'relu');
        s.exitScope();
      }
      s.output('head.cls', l, ctx.conv('retina_cls', cls, RETINA_ANCHORS * k, 3, 1, 1, 1, true, LAYER_FLAGS.classifier));
      s.output('head.reg', l, ctx.conv('retina_reg', reg, RETINA_ANCHORS * 4, 3, 1, 1, 1, true));
    });
  },
};
