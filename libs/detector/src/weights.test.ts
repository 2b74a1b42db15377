import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { standardBackbone } from '@sm-nas/arch';
import { buildGraph } from '@sm-nas/arch/graph';
import { createDetector } from './detector.js';
import { GraphExecutor } from './executor.js';
import { fromTorchvisionName, toTorchvisionName } from './torchvision.js';
import { fpn, retinaArch, testBackend } from './testing.js';

beforeAll(async () => {
  await testBackend();
});

/** Our parameters of torchvision's classification model (form 'classification', batch norm). */
async function classificationWeights(kind: 'resnet18' | 'resnet50' | 'mobilenet_v2') {
  const backbone = standardBackbone(kind);
  const graph = buildGraph({ ...retinaArch(kind, fpn(3, 6), 224), backbone }, { form: 'classification', norm: 'batch_norm' });
  const ex = new GraphExecutor(graph, 0);
  const shapes = new Map([...ex.params.params.values()].map((p) => [p.name, p]));
  const weights = await ex.params.getWeights();
  ex.dispose();
  return { backbone, shapes, weights };
}

describe('weights', () => {
  // torchvision resnet18: 62 parameters (20 convs, 20 BN weight+bias, fc weight+bias) + 40 BN
  // running stats; resnet50: 161 + 106 (torchvision's state_dict, num_batches_tracked aside).
  it.each([['resnet18', 62 + 40], ['resnet50', 161 + 106], ['mobilenet_v2', 158 + 104]] as const)('maps every %s tensor to a torchvision key and back', async (kind, count) => {
    const { backbone, weights } = await classificationWeights(kind);
    expect(weights.size).toBe(count);
    const keys = new Set<string>();
    for (const name of weights.keys()) {
      const key = toTorchvisionName(backbone, name);
      expect(key, name).toBeDefined();
      keys.add(key!);
      expect(fromTorchvisionName(backbone, key!)).toBe(name);
    }
    expect(keys.size).toBe(count);
  });

  it('uses torchvision names and PyTorch shapes (ResNet-18/50)', async () => {
    const r18 = await classificationWeights('resnet18');
    const tv18 = new Map([...r18.weights].map(([n, w]) => [toTorchvisionName(r18.backbone, n)!, w.shape]));
    expect(tv18.get('conv1.weight')).toEqual([64, 3, 7, 7]);
    expect(tv18.get('layer1.0.conv1.weight')).toEqual([64, 64, 3, 3]);
    expect(tv18.get('layer2.0.downsample.0.weight')).toEqual([128, 64, 1, 1]);
    expect(tv18.get('layer2.0.downsample.1.running_var')).toEqual([128]);
    expect(tv18.get('layer4.1.bn2.bias')).toEqual([512]);
    expect(tv18.get('fc.weight')).toEqual([1000, 512]);
    const r50 = await classificationWeights('resnet50');
    const tv50 = new Map([...r50.weights].map(([n, w]) => [toTorchvisionName(r50.backbone, n)!, w.shape]));
    expect(tv50.get('layer1.0.downsample.0.weight')).toEqual([256, 64, 1, 1]);
    expect(tv50.get('layer3.5.conv2.weight')).toEqual([256, 256, 3, 3]);
    expect(tv50.get('layer4.2.conv3.weight')).toEqual([2048, 512, 1, 1]);
    expect(tv50.get('fc.weight')).toEqual([1000, 2048]);
    const mb = await classificationWeights('mobilenet_v2');
    const tvm = new Map([...mb.weights].map(([n, w]) => [toTorchvisionName(mb.backbone, n)!, w.shape]));
    expect(tvm.get('features.0.0.weight')).toEqual([32, 3, 3, 3]);
    expect(tvm.get('features.1.conv.0.0.weight')).toEqual([32, 1, 3, 3]);
    expect(tvm.get('features.2.conv.1.0.weight')).toEqual([96, 1, 3, 3]);
    expect(tvm.get('features.17.conv.2.weight')).toEqual([320, 960, 1, 1]);
    expect(tvm.get('features.18.0.weight')).toEqual([1280, 320, 1, 1]);
    expect(tvm.get('classifier.1.weight')).toEqual([1000, 1280]);
  });

  it('round-trips through getWeights/setWeights: same tensors, same outputs', async () => {
    const arch = retinaArch('resnext50_32x4d', fpn(3, 6));
    const options = { numClasses: 4, norm: 'group_norm' as const, fidelity: { inputScale: 1, widthMultiplier: 0.25 } };
    const a = createDetector(arch, { ...options, seed: 1 });
    const b = createDetector(arch, { ...options, seed: 2 });
    const wa = await a.getWeights();
    // shared head weights appear once, without the level
    expect(wa.has('head.cls_conv0.conv.weight')).toBe(true);
    expect([...wa.keys()].some((k) => /^head\.p\d/.test(k))).toBe(false);
    expect(wa.get('head.retina_cls.bias')!.data[0]).toBeCloseTo(-Math.log(99), 5);
    b.setWeights(wa, true);
    const wb = await b.getWeights();
    // Byte comparison: vitest's deep equality walks ~1.5M floats one by one (tens of seconds).
    const bytes = (d: Float32Array) => Buffer.from(d.buffer, d.byteOffset, d.byteLength);
    for (const [name, t] of wa) {
      expect(wb.get(name)!.shape, name).toEqual(t.shape);
      expect(bytes(wb.get(name)!.data).equals(bytes(t.data)), name).toBe(true);
    }
    const x = tf.randomNormal([1, 64, 64, 3]) as tf.Tensor4D;
    const ya = a.forward(x).get('head.cls')!.get(4)!;
    const yb = b.forward(x).get('head.cls')!.get(4)!;
    expect(tf.max(tf.abs(tf.sub(ya, yb))).dataSync()[0]).toBe(0);
    expect(() => b.setWeights(new Map([['nope', { data: new Float32Array(1), shape: [1] }]]))).toThrow(/no parameter nope/);
    const bad = new Map([['head.retina_cls.bias', { data: new Float32Array(3), shape: [3] }]]);
    expect(() => b.setWeights(bad)).toThrow(/shape/);
    a.dispose();
    b.dispose();
  });
});
