// torchvision's FCOSHead (Tian et al., "FCOS: Fully Convolutional One-Stage Object Detection", ICCV
// 2019): anchor-free, two 4-conv towers of conv (with bias) + GroupNorm(32) + ReLU, sigmoid classes
// (K channels), the four distances to the box sides (a ReLU keeps them >= 0) and centerness, both
// off the regression tower; weights shared across levels, no per-level scales.

import { LAYER_FLAGS } from '../../graph/sink.js';
import type { HeadFamily } from '../family.js';

/** torchvision FCOSHead's GroupNorm groups. */
const FCOS_GN_GROUPS = 32;

export const FCOS: HeadFamily = {
  stages: [0],
  defaultStages: 0,
  rpns: ['none'],
  rpnRule: 'fcos is one-stage and anchor-free: it takes no proposals',
  lower(ctx, { channels }, lo, hi) {
    if (channels % FCOS_GN_GROUPS !== 0) ctx.fail(`fcos towers use GroupNorm(${FCOS_GN_GROUPS}): head channels ${channels} are not a multiple of ${FCOS_GN_GROUPS}`);
    const s = ctx.sink;
    const tower = (x: number, scope: string): number => {
      for (let i = 0; i < 4; i++) {
        s.enterScope(scope, i);
        x = ctx.act('relu', ctx.groupNorm('gn', ctx.conv('conv', x, channels, 3, 1, 1, 1, true), FCOS_GN_GROUPS), 'relu');
        s.exitScope();
      }
      return x;
    };
    ctx.begin('head', 0, LAYER_FLAGS.head);
    ctx.sharedLevels(lo, hi, (l) => {
      const cls = tower(ctx.feature(l), 'cls_conv');
      const reg = tower(ctx.feature(l), 'reg_conv');
      s.output('head.cls', l, ctx.conv('cls_logits', cls, ctx.numClasses, 3, 1, 1, 1, true, LAYER_FLAGS.classifier));
      s.output('head.reg', l, ctx.act('relu', ctx.conv('bbox_reg', reg, 4, 3, 1, 1, 1, true), 'relu'));
      s.output('head.centerness', l, ctx.conv('bbox_ctrness', reg, 1, 3, 1, 1, 1, true));
    });
  },
};
