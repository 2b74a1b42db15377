// The structural genes of an architecture: two architectures with the same key differ in modules
// alone (base channels, block strings, neck and head widths), which is what the modular stage
// changes while it refines one structural model.
import type { Architecture } from './architecture.js';

export function structureKey(a: Architecture): string {
  const neck = a.neck.kind === 'fpn' ? `fpn:${a.neck.startLevel}-${a.neck.endLevel}` : 'c4';
  return `${a.backbone.kind}/${neck}/${a.rpn}/${a.head.kind}.${a.head.stages}/${a.input.widthPx}x${a.input.heightPx}`;
}
