// SearchSpec.constraints: allowed values of the backbone, neck, head and input genes. A suggestion outside
// them is repaired into them, gene by gene, rather than dropped: a random or evolutionary proposal
// lands outside a narrow constraint most of the time (2 of 7 backbones x 1 of 10 heads x 1 of 4
// inputs is under 1 %), and dropping would starve the search. The replacement value is picked by a
// hash of the suggestion, so a repair is deterministic; the modular genes of a replaced backbone
// become its standard ones. Repaired candidates say so in their origin.
import { createHash } from 'node:crypto';
import { HEAD_KINDS, HEADS } from '@sm-nas/arch';
import { headKindToWire } from '@sm-nas/arch/wire';
import { common, type controller } from '@sm-nas/proto';

/** Heads that take no proposals (their family allows only RPN 'none'). */
const ONE_STAGE_HEADS: ReadonlySet<common.HeadKind> = new Set(
  HEAD_KINDS.filter((k) => HEADS[k].rpns.every((r) => r === 'none')).map(headKindToWire),
);

export function hasConstraints(c: controller.SpaceConstraints | undefined): boolean {
  return !!c && (c.backbones.length > 0 || c.heads.length > 0 || c.inputs.length > 0 || c.necks.length > 0 || c.fpnStartLevels.length > 0);
}

/** Whether an architecture is inside the constraints (an empty list allows any value). */
export function allowedBy(c: controller.SpaceConstraints | undefined, a: common.Architecture | undefined): boolean {
  if (!c || !a) return true;
  if (c.backbones.length > 0 && !c.backbones.includes(a.backbone?.kind ?? 0)) return false;
  if (c.heads.length > 0 && !c.heads.includes(a.head?.kind ?? 0)) return false;
  if (c.necks.length > 0 && !c.necks.includes(a.neck?.kind ?? 0)) return false;
  if (c.fpnStartLevels.length > 0 && a.neck?.kind === common.NeckKind.NECK_KIND_FPN && !c.fpnStartLevels.includes(a.neck.startLevel)) return false;
  if (c.inputs.length > 0 && !c.inputs.some((i) => i.widthPx === a.input?.widthPx && i.heightPx === a.input?.heightPx)) return false;
  return true;
}

function pick<T>(values: readonly T[], salt: string, gene: string): T {
  const h = createHash('sha256').update(`${gene}:${salt}`).digest().readUInt32BE(0);
  return values[h % values.length]!;
}

/** The architecture with each gene outside the constraints replaced by an allowed one. */
export function repairInto(
  c: controller.SpaceConstraints | undefined,
  a: common.Architecture,
): { architecture: common.Architecture; repaired: boolean } {
  if (!hasConstraints(c) || allowedBy(c, a)) return { architecture: a, repaired: false };
  const salt = JSON.stringify(common.Architecture.toJSON(a));
  const out: common.Architecture = structuredClone(a);
  if (c!.backbones.length > 0 && !c!.backbones.includes(a.backbone?.kind ?? 0)) {
    // 0 and '' mean the backbone's standard base channels and block string.
    out.backbone = { kind: pick(c!.backbones, salt, 'backbone'), baseChannels: 0, blocks: '' };
  }
  if (c!.heads.length > 0 && !c!.heads.includes(a.head?.kind ?? 0)) {
    const kind = pick(c!.heads, salt, 'head');
    const oneStage = ONE_STAGE_HEADS.has(kind);
    out.head = { kind, stages: 0, channels: a.head?.channels ?? 0 };
    if (oneStage) out.rpn = common.RpnKind.RPN_KIND_NONE;
    else if (a.rpn === common.RpnKind.RPN_KIND_NONE || a.rpn === common.RpnKind.RPN_KIND_UNSPECIFIED) out.rpn = common.RpnKind.RPN_KIND_RPN;
  }
  if (c!.necks.length > 0 && !c!.necks.includes(out.neck?.kind ?? 0)) {
    const kind = pick(c!.necks, salt, 'neck');
    // mmdetection's levels: P3-P7 for the one-stage heads (RetinaNet, FCOS), P2-P6 for the R-CNN heads.
    const oneStage = ONE_STAGE_HEADS.has(out.head?.kind ?? common.HeadKind.HEAD_KIND_UNSPECIFIED);
    out.neck = kind === common.NeckKind.NECK_KIND_FPN
      ? { kind, startLevel: oneStage ? 3 : 2, endLevel: oneStage ? 7 : 6, channels: out.head?.channels || 256, extraSource: common.FpnExtraSource.FPN_EXTRA_SOURCE_UNSPECIFIED }
      : { kind, startLevel: 0, endLevel: 0, channels: 0, extraSource: common.FpnExtraSource.FPN_EXTRA_SOURCE_UNSPECIFIED };
  }
  const levels = c!.fpnStartLevels;
  if (levels.length > 0 && out.neck?.kind === common.NeckKind.NECK_KIND_FPN && !levels.includes(out.neck.startLevel)) {
    // The nearest allowed level (the lower one on a tie): the least change to what the algorithm
    // chose (a P1 FPN moved to P5 would keep none of its character). The exit level stays unless
    // the new entry passes it (the space needs start < end).
    const from = out.neck.startLevel;
    const startLevel = [...levels].sort((x, y) => Math.abs(x - from) - Math.abs(y - from) || x - y)[0]!;
    out.neck = { ...out.neck, startLevel, endLevel: out.neck.endLevel > startLevel ? out.neck.endLevel : 6 };
  }
  if (c!.inputs.length > 0 && !c!.inputs.some((i) => i.widthPx === a.input?.widthPx && i.heightPx === a.input?.heightPx)) {
    out.input = { ...pick(c!.inputs, salt, 'input') };
  }
  return { architecture: out, repaired: true };
}
