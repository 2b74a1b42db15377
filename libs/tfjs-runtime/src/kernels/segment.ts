// UnsortedSegmentSum (the gradient of gather): out[segmentIds[i], ...] += x[i, ...]. Ids outside
// [0, numSegments) are dropped, as in TensorFlow. A plain loop: the op moves memory, it does not
// compute.
import { util, type KernelBackend, type KernelFunc, type TensorInfo, type UnsortedSegmentSumAttrs } from '@tensorflow/tfjs-core';

export const unsortedSegmentSumKernel: KernelFunc = ({ inputs, backend: b, attrs }) => {
    const backend = b as KernelBackend;
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = attrs as unknown as UnsortedSegmentSumAttrs;
  const ids = backend.readSync(segmentIds.dataId) as Int32Array | Float32Array;
  const values = backend.readSync(x.dataId) as Float32Array | Int32Array;
  const inner = util.sizeFromShape(x.shape.slice(segmentIds.shape.length));
  const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
  const out = x.dtype === 'int32' ? new Int32Array(numSegments * inner) : new Float32Array(numSegments * inner);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (id < 0 || id >= numSegments) continue;
    const src = i * inner;
    const dst = id * inner;
    for (let j = 0; j < inner; j++) out[dst + j]! += values[src + j]!;
  }
  return { dataId: backend.write(out, outShape, x.dtype), shape: outShape, dtype: x.dtype };
};
