// repairInto: a suggestion outside SearchSpec.constraints comes back inside them and still valid
// (checked by libs/arch's validator, the searchspace service's own check).
import { validateArchitecture } from '@sm-nas/arch';
import { architectureFromWire } from '@sm-nas/arch/wire';
import { common, controller } from '@sm-nas/proto';
import { describe, expect, it } from 'vitest';
import { allowedBy, repairInto } from './constraints.js';

const { BackboneKind, NeckKind, RpnKind, HeadKind } = common;

function arch(neck: common.Neck, head: common.HeadKind, rpn: common.RpnKind): common.Architecture {
  return {
    backbone: { kind: BackboneKind.BACKBONE_KIND_RESNET18, baseChannels: 64, blocks: '11-21-21-21' },
    neck,
    rpn,
    head: { kind: head, stages: head === HeadKind.HEAD_KIND_CASCADE_RCNN ? 3 : 0, channels: 128 },
    input: { widthPx: 512, heightPx: 512 },
  };
}

const c4 = { kind: NeckKind.NECK_KIND_C4, startLevel: 0, endLevel: 0, channels: 0, extraSource: 0 };
const fpnOnly = controller.SpaceConstraints.fromPartial({ necks: [NeckKind.NECK_KIND_FPN] });

describe('neck constraints', () => {
  it('repairs a C4 detector into an FPN one with its head family\'s levels, valid and allowed', () => {
    // mmdetection's configs: P2-P6 for Faster and Cascade R-CNN, P3-P7 for RetinaNet and FCOS.
    for (const [head, rpn, start, end] of [
      [HeadKind.HEAD_KIND_FASTER_RCNN, RpnKind.RPN_KIND_RPN, 2, 6],
      [HeadKind.HEAD_KIND_CASCADE_RCNN, RpnKind.RPN_KIND_GUIDED_ANCHORING, 2, 6],
      [HeadKind.HEAD_KIND_RETINANET, RpnKind.RPN_KIND_NONE, 3, 7],
      [HeadKind.HEAD_KIND_FCOS, RpnKind.RPN_KIND_NONE, 3, 7],
    ] as const) {
      const { architecture, repaired } = repairInto(fpnOnly, arch(c4, head, rpn));
      expect(repaired).toBe(true);
      expect(architecture.neck).toEqual({ kind: NeckKind.NECK_KIND_FPN, startLevel: start, endLevel: end, channels: 128, extraSource: 0 });
      expect(allowedBy(fpnOnly, architecture)).toBe(true);
      expect(() => validateArchitecture(architectureFromWire(architecture))).not.toThrow();
    }
  });

  it('leaves an allowed neck as it is', () => {
    const a = arch({ kind: NeckKind.NECK_KIND_FPN, startLevel: 4, endLevel: 5, channels: 64, extraSource: 0 }, HeadKind.HEAD_KIND_FASTER_RCNN, RpnKind.RPN_KIND_RPN);
    expect(repairInto(fpnOnly, a)).toEqual({ architecture: a, repaired: false });
  });

  it('moves an FPN that starts at a level outside fpn_start_levels to the nearest allowed one, keeping its exit level when it can', () => {
    const c = controller.SpaceConstraints.fromPartial({ fpnStartLevels: [2, 3, 5] });
    for (const [start, end, nearest] of [[1, 6, 2], [1, 2, 2], [4, 6, 3], [6, 6, 5]] as const) {
      const { architecture, repaired } = repairInto(c, arch({ kind: NeckKind.NECK_KIND_FPN, startLevel: start, endLevel: end, channels: 256, extraSource: 0 }, HeadKind.HEAD_KIND_CASCADE_RCNN, RpnKind.RPN_KIND_GUIDED_ANCHORING));
      expect(repaired).toBe(true);
      expect(architecture.neck!.startLevel).toBe(nearest);
      expect(architecture.neck!.endLevel).toBe(end > architecture.neck!.startLevel ? end : 6);
      expect(allowedBy(c, architecture)).toBe(true);
      expect(() => validateArchitecture(architectureFromWire(architecture))).not.toThrow();
    }
  });
});
