import { describe, expect, it } from 'vitest';
import { ArchValidationError } from './errors.js';
import { architectureId, describeArchitecture, parseArchitecture, parseCanonical, toCanonical } from './canonical.js';
import { sampleArchitectures } from './sample.js';
import { mutateArchitecture } from './mutate.js';

const CASCADE = 'resnet50:64:111-2111-211111-211/fpn:2-6:256/rpn/cascade_rcnn.3:256/1333x800';
const cascade = {
  backbone: { kind: 'resnet50', baseChannels: 64, blocks: '111-2111-211111-211' },
  neck: { kind: 'fpn', startLevel: 2, endLevel: 6, channels: 256, extraSource: 'c5' },
  rpn: 'rpn',
  head: { kind: 'cascade_rcnn', stages: 3, channels: 256 },
  input: { widthPx: 1333, heightPx: 800 },
} as const;

function errorOf(f: () => unknown): ArchValidationError {
  try {
    f();
  } catch (e) {
    if (e instanceof ArchValidationError) return e;
    throw e;
  }
  throw new Error('expected an ArchValidationError');
}

describe('canonical string', () => {
  it('writes the documented format', () => {
    expect(toCanonical(cascade)).toBe(CASCADE);
    expect(parseCanonical(CASCADE)).toEqual(cascade);
    expect(toCanonical(parseCanonical('mobilenet_v2:64:21-211-2111211-2112/c4/none/retinanet:256/512x512'))).toBe(
      'mobilenet_v2:64:21-211-2111211-2112/c4/none/retinanet:256/512x512',
    );
    expect(parseCanonical('resnet18:64:11-21-21-21/c4/guided_anchoring/faster_rcnn:128/800x600').head).toEqual({
      kind: 'faster_rcnn',
      stages: 1,
      channels: 128,
    });
  });

  it('gives the id a Python client computes', () => {
    // python3: "a" + hashlib.sha256(CASCADE.encode("utf-8")).hexdigest()[:16]
    expect(architectureId(cascade)).toBe('a2e58b2fa471f5be0');
    expect(describeArchitecture(parseCanonical('mobilenet_v2:64:21-211-2111211-2112/c4/none/retinanet:256/512x512')).id).toBe(
      'ad3c7a0f16fbcfb89',
    );
  });

  it('round-trips sampled and mutated architectures', () => {
    const samples = [
      ...sampleArchitectures('structural', 300, 11),
      ...sampleArchitectures('modular', 300, 12),
      ...sampleArchitectures('modular', 100, 13).map((a, i) => mutateArchitecture(a, 'modular', i)),
    ];
    const ids = new Set<string>();
    for (const a of samples) {
      const c = toCanonical(a);
      expect(toCanonical(parseCanonical(c))).toBe(c);
      expect(parseCanonical(c)).toEqual(a);
      ids.add(architectureId(a));
    }
    // Distinct strings get distinct ids (no truncation collision among these).
    expect(ids.size).toBe(new Set(samples.map(toCanonical)).size);
  });

  it.each([
    ['resnet51:64:111-2111-211111-211/fpn:2-6:256/rpn/cascade_rcnn.3:256/1333x800', 'backbone.kind', 0],
    ['resnet50:64:11-21-21/fpn:2-6:256/rpn/cascade_rcnn.3:256/1333x800', 'backbone.blocks', 12],
    ['resnet50:064:111-2111-211111-211/fpn:2-6:256/rpn/cascade_rcnn.3:256/1333x800', 'backbone.base_channels', 9],
    ['resnet50:64:111-2111-211111-211/fpn:6-2:256/rpn/cascade_rcnn.3:256/1333x800', 'neck.start_level', 36],
    ['resnet50:64:111-2111-211111-211/fpn:4-2:256/rpn/cascade_rcnn.3:256/1333x800', 'neck.end_level', 38],
    ['resnet50:64:111-2111-211111-211/fpn:2-6/rpn/cascade_rcnn.3:256/1333x800', 'neck.kind', 32],
    ['resnet50:64:111-2111-211111-211/fpn:2-6:256/none/cascade_rcnn.3:256/1333x800', 'rpn', 44],
    ['resnet50:64:111-2111-211111-211/fpn:2-6:256/rpn/cascade_rcnn:256/1333x800', 'head.stages', 61],
    ['resnet50:64:111-2111-211111-211/fpn:2-6:256/rpn/retinanet.0:256/1333x800', 'head.stages', 58],
    ['resnet50:64:111-2111-211111-211/fpn:2-6:256/rpn/cascade_rcnn.3:abc/1333x800', 'head.channels', 63],
    ['resnet50:64:111-2111-211111-211/fpn:2-6:256/rpn/cascade_rcnn.3:256/0x0', 'input.width_px', 67],
    ['resnet50:64:111-2111-211111-211/fpn:2-6:256/rpn/cascade_rcnn.3:256/1333x100000', 'input.height_px', 72],
    ['resnet50:64:111-2111-211111-211/fpn:2-6:256/rpn/cascade_rcnn.3:256', 'architecture', undefined],
  ])('%s: names %s at position %s', (text, field, position) => {
    const e = errorOf(() => parseCanonical(text));
    expect(e.field).toBe(field);
    expect(e.position).toBe(position);
    expect(e.message.startsWith(`${field}: `)).toBe(true);
  });
});

describe('parseArchitecture', () => {
  it('reads the canonical string, the domain JSON and the protobuf JSON alike', () => {
    const wire = {
      backbone: { kind: 'resnet50', base_channels: 64, blocks: '111-2111-211111-211' },
      neck: { kind: 'fpn', start_level: 2, end_level: 6, channels: 256 },
      rpn: 'rpn',
      head: { kind: 'cascade_rcnn', stages: 3, channels: 256 },
      input: { width_px: 1333, height_px: 800 },
    };
    const protoEnums = {
      ...wire,
      backbone: { ...wire.backbone, kind: 'BACKBONE_KIND_RESNET50' },
      neck: { ...wire.neck, kind: 'NECK_KIND_FPN' },
      rpn: 'RPN_KIND_RPN',
      head: { ...wire.head, kind: 'HEAD_KIND_CASCADE_RCNN' },
    };
    expect(parseArchitecture(` ${CASCADE}\n`)).toEqual(cascade);
    expect(parseArchitecture(JSON.stringify(cascade))).toEqual(cascade);
    expect(parseArchitecture(JSON.stringify(wire))).toEqual(cascade);
    expect(parseArchitecture(JSON.stringify(protoEnums))).toEqual(cascade);
  });

  it('names wire fields for bad JSON', () => {
    expect(errorOf(() => parseArchitecture('{}')).field).toBe('backbone');
    expect(errorOf(() => parseArchitecture('{"backbone": ')).field).toBe('architecture');
    const noBase = { ...cascade, backbone: { kind: 'resnet50', blocks: '111-2111-211111-211' } };
    expect(errorOf(() => parseArchitecture(JSON.stringify(noBase))).field).toBe('backbone.base_channels');
    const badInput = { ...cascade, input: { width_px: 0, height_px: 0 } };
    expect(errorOf(() => parseArchitecture(JSON.stringify(badInput))).field).toBe('input.width_px');
  });

  it('applies the requested space', () => {
    expect(errorOf(() => parseArchitecture(CASCADE.replace(':64:', ':48:'), { space: 'structural' })).field).toBe(
      'backbone.base_channels',
    );
  });
});
