// What the native kernels (@sm-nas/native-kernels) need of tfjs-backend-wasm's BackendWasm: its heap, where
// each tensor lives on it, and new outputs. The addon reads and writes the heap in place.
import type { TensorInfo } from '@tensorflow/tfjs-core';

export interface WasmBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
}

/** The tensor's offset on the heap in float32 elements (what the addon's argument arrays carry). */
export function floatOffset(backend: WasmBackend, t: TensorInfo): number {
  const offset = backend.dataIdMap.get(t.dataId)?.memoryOffset;
  if (offset == null || offset % 4 !== 0) throw new Error(`tensor [${t.shape.join(', ')}] has no float32 offset on the wasm heap`);
  return offset / 4;
}
