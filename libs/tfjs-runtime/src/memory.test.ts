// The wasm heap's ceiling is the one tfjs-backend-wasm's Emscripten glue grows its heap to (a
// version of the package with another one fails here), and only the wasm backend has one.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { trainingMemoryLimit, WASM_HEAP_MAX_BYTES } from './memory.js';

const require = createRequire(import.meta.url);
const wasmOut = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '..', 'wasm-out');

describe('training memory limit', () => {
  it.each(['tfjs-backend-wasm.js', 'tfjs-backend-wasm-simd.js', 'tfjs-backend-wasm-threaded-simd.js'])('is %s\'s getHeapMax (4 GiB - 64 KiB)', (glue) => {
    const heapMax = /function getHeapMax\(\)\{return (\d+)\}/.exec(readFileSync(join(wasmOut, glue), 'utf8'));
    expect(Number(heapMax?.[1])).toBe(WASM_HEAP_MAX_BYTES);
    expect(WASM_HEAP_MAX_BYTES).toBe(2 ** 32 - 2 ** 16);
  });

  it('holds for wasm only', () => {
    expect(trainingMemoryLimit({ name: 'wasm' })).toBe(WASM_HEAP_MAX_BYTES);
    for (const name of ['cpu', 'webgpu', 'tensorflow'] as const) expect(trainingMemoryLimit({ name })).toBeUndefined();
  });
});
