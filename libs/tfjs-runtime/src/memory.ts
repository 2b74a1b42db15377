// How much memory a backend's tensors can hold at most, where a hard limit exists: the wasm
// backend's heap is one 32-bit WebAssembly memory. Its tensors, and everything its kernels
// allocate, live there; when a malloc cannot grow it further it returns 0 and the backend (which
// does not check) writes there, ending in `memory access out of bounds` or `Aborted()` somewhere
// later. The trainer checks a step's estimated memory (libs/detector's memory.ts) against this
// before the first step.
import type { BackendInfo } from './backend.js';

/**
 * The wasm heap's ceiling in bytes: 4 GiB - 64 KiB. tfjs-backend-wasm 4.22's binaries declare a
 * maximum of 65536 pages (4 GiB) and its Emscripten glue grows the heap to `getHeapMax()` =
 * 4294901760 at most. Offsets above 2 GiB work (the backend reads malloc's result `>>> 0`):
 * measured, a ResNet-18 RetinaNet step at 512x512, batch 4, ran with its heap at 2.79 GB, and
 * batch 8 failed when a malloc returned 0 at 4294901760 bytes (2 CPUs, see memory.test.ts).
 */
export const WASM_HEAP_MAX_BYTES = 4294901760;

/**
 * The bytes a training step may use on this backend, or undefined where no fixed limit is known:
 * the wasm heap's ceiling; the cpu backend's tensors are ordinary JS memory and native TensorFlow's
 * and WebGPU's live outside any heap this process can size in advance (a GPU's memory is shared with
 * other processes), so they are not checked.
 */
export function trainingMemoryLimit(info: Pick<BackendInfo, 'name'>): number | undefined {
  return info.name === 'wasm' ? WASM_HEAP_MAX_BYTES : undefined;
}
