// Training fidelity (proxy training, DESIGN.md "Scale"): a smaller input and thinner layers,
// applied to the architecture before it is lowered, so what is trained is exactly what is built.

import { withWidth, type Architecture } from '@sm-nas/arch';
import { makeDivisible } from '@sm-nas/arch/graph';

export interface Fidelity {
  /** Input side multiplier (1 = the architecture's input). */
  inputScale: number;
  /** Multiplier on backbone base channels, the neck's width and head channels (1 = as given). */
  widthMultiplier: number;
}

export const FULL_FIDELITY: Fidelity = { inputScale: 1, widthMultiplier: 1 };

/** Channels times the multiplier, rounded to a multiple of 8 (torchvision's `_make_divisible`). */
export function scaleChannels(channels: number, multiplier: number): number {
  return multiplier === 1 ? channels : makeDivisible(channels * multiplier, 8);
}

/**
 * The architecture trained at `fidelity`: input sides scaled and rounded (at least 32 px), base
 * channels (MobileNetV2: its width multiplier), FPN channels and head channels scaled and rounded
 * to multiples of 8. Block strings, levels and kinds are unchanged.
 */
export function applyFidelity(arch: Architecture, fidelity: Fidelity): Architecture {
  const { inputScale, widthMultiplier } = fidelity;
  if (!(inputScale > 0 && Number.isFinite(inputScale))) throw new RangeError(`fidelity: input scale ${inputScale}`);
  if (!(widthMultiplier > 0 && Number.isFinite(widthMultiplier))) throw new RangeError(`fidelity: width multiplier ${widthMultiplier}`);
  const side = (px: number): number => (inputScale === 1 ? px : Math.max(32, Math.round(px * inputScale)));
  return {
    backbone: { ...arch.backbone, baseChannels: scaleChannels(arch.backbone.baseChannels, widthMultiplier) },
    neck: withWidth(arch.neck, (_choices, current) => scaleChannels(current, widthMultiplier)),
    rpn: arch.rpn,
    head: { ...arch.head, channels: scaleChannels(arch.head.channels, widthMultiplier) },
    input: { widthPx: side(arch.input.widthPx), heightPx: side(arch.input.heightPx) },
  };
}
