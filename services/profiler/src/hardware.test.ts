// Hardware identity: the class id from /proc/cpuinfo, the affinity and nvidia-smi (fixture text
// copied from real machines' output formats), stable and free of what does not change latency.
import { describe, expect, it } from 'vitest';
import { hardwareClassProblem } from '@sm-nas/bus';
import { countCpuList, describeHardware, readHardwareSources, slug, type HardwareSources } from './hardware.js';

const XEON = `processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8488C
flags\t\t: fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 avx512f avx512bw avx512_vnni avx512_bf16 amx_tile

processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8488C
flags\t\t: fpu sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 avx512f avx512bw avx512_vnni avx512_bf16 amx_tile
`;
const GRAVITON = `processor\t: 0
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop sha3 asimddp sve
CPU implementer\t: 0x41
`;
const WASM = { name: 'wasm', version: '@tensorflow/tfjs-backend-wasm@4.22.0', simd: true, native: 'oneDNN 2.6.3' } as const;
const NODE_GPU = { name: 'tensorflow', version: '@tensorflow/tfjs-node-gpu@4.22.0', simd: true } as const;

function sources(over: Partial<HardwareSources>): HardwareSources {
  return { cpuinfo: XEON, allowedCpus: 2, nvidiaSmiQuery: undefined, nvidiaSmi: undefined, backend: WASM, ...over };
}

describe('hardware class', () => {
  it('names a CPU by model, pinned cores, ISA level and backend', () => {
    const h = describeHardware(sources({}));
    expect(h.hardwareClass).toBe('cpu.intel-xeon-platinum-8488c.2c-avx512-fma.wasm-simd-4.22-onednn-2.6');
    expect(h.deviceKind).toBe('cpu');
    expect(h.cpuIsaFlags).toEqual(['sse4_2', 'avx', 'avx2', 'fma', 'f16c', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx512_bf16', 'amx_tile']);
    expect(h.backendVersion).toBe('@tensorflow/tfjs-backend-wasm@4.22.0 + oneDNN 2.6.3');
    // Native convolutions off is another class: other kernels run.
    expect(describeHardware(sources({ backend: { ...WASM, native: undefined } })).hardwareClass).toBe(
      'cpu.intel-xeon-platinum-8488c.2c-avx512-fma.wasm-simd-4.22',
    );
    // A patch release of the backend does not change the class; the affinity does.
    expect(describeHardware(sources({ backend: { ...WASM, version: '@tensorflow/tfjs-backend-wasm@4.22.1' } })).hardwareClass).toBe(h.hardwareClass);
    expect(describeHardware(sources({ allowedCpus: 1 })).hardwareClass).toContain('.1c-avx512');
    // Kernels on one thread of two pinned CPUs: another class.
    expect(describeHardware(sources({ backend: { ...WASM, threads: 1 } })).hardwareClass).toContain('.2c-1t-avx512');
    expect(describeHardware(sources({ backend: { ...WASM, threads: 2 } })).hardwareClass).toBe(h.hardwareClass);
    expect(hardwareClassProblem(h.hardwareClass)).toBeUndefined();
  });

  it('names an ARM CPU without a model name by its features', () => {
    const h = describeHardware(sources({ cpuinfo: GRAVITON, allowedCpus: undefined, backend: { ...WASM, native: undefined } }));
    expect(h.hardwareClass).toMatch(/^cpu\.[a-z0-9-]+\.1c-sve\.wasm-simd-4\.22$/);
    expect(h.cpuIsaFlags).toEqual(['asimd', 'asimddp', 'sve']);
  });

  it('names the GPU when the backend runs on it (nvidia-smi present)', () => {
    const h = describeHardware(
      sources({
        backend: NODE_GPU,
        nvidiaSmiQuery: 'NVIDIA H100 80GB HBM3, 81559, 535.104.05\n',
        nvidiaSmi: '| NVIDIA-SMI 535.104.05   Driver Version: 535.104.05   CUDA Version: 12.2     |',
      }),
    );
    expect(h.hardwareClass).toBe('gpu.nvidia-h100-80gb-hbm3-80gb.tfjs-node-gpu-4.22');
    expect(h.deviceKind).toBe('gpu');
    expect(h.gpu).toEqual({ product: 'NVIDIA H100 80GB HBM3', memoryBytes: 81559 * 2 ** 20, driverVersion: '535.104.05', cudaVersion: '12.2' });
    // A GPU the backend does not use is not the device.
    expect(describeHardware(sources({ nvidiaSmiQuery: 'Tesla T4, 15360, 525.85.12' })).deviceKind).toBe('cpu');
  });

  // Adapter fields as Dawn 0.6 reports them: lavapipe here (Mesa 25.0.7), an H200 through NVIDIA's
  // Vulkan driver 580, an RX 7900 XTX through Mesa's RADV (device names as Vulkan drivers print them).
  const WEBGPU = { name: 'webgpu', version: '@tensorflow/tfjs-backend-webgpu@4.22.0 on Dawn (webgpu@0.6.2)', simd: false } as const;
  const LAVAPIPE = { vendor: 'mesa', architecture: 'software', device: 'llvmpipe-llvm-15-0-6-256-bits-', description: 'llvmpipe: Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6)', software: true, features: ['shader-f16', 'timestamp-query'] };
  const H200 = { vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H200', description: 'NVIDIA: 580.95.05', software: false, features: ['shader-f16', 'timestamp-query'] };

  it('names a WebGPU GPU by nvidia-smi when present, else by its adapter and DRM memory', () => {
    const h = describeHardware(sources({ backend: { ...WEBGPU, adapter: H200 }, nvidiaSmiQuery: 'NVIDIA H200, 143771, 580.95.05\n', nvidiaSmi: 'CUDA Version: 13.0' }));
    expect(h.hardwareClass).toBe('gpu.nvidia-h200-140gb.webgpu-dawn-0.6');
    expect(h.deviceKind).toBe('gpu');
    const amd = { vendor: 'amd', architecture: 'rdna-3', device: 'AMD Radeon RX 7900 XTX (RADV NAVI31)', description: 'radv: Mesa 25.0.7', software: false, features: [] };
    const a = describeHardware(sources({ backend: { ...WEBGPU, adapter: amd }, drmVramBytes: [24 * 2 ** 30] }));
    expect(a.hardwareClass).toBe('gpu.amd-radeon-rx-7900-xtx-24gb.webgpu-dawn-0.6');
    expect(hardwareClassProblem(a.hardwareClass)).toBeUndefined();
  });

  it('never calls a software WebGPU adapter a GPU', () => {
    const h = describeHardware(sources({ backend: { ...WEBGPU, adapter: LAVAPIPE }, nvidiaSmiQuery: 'NVIDIA H200, 143771, 580.95.05' }));
    expect(h.deviceKind).toBe('cpu');
    expect(h.hardwareClass).toBe('cpu.intel-xeon-platinum-8488c.2c-avx512-fma.webgpu-dawn-0.6-mesa-software');
    expect(hardwareClassProblem(h.hardwareClass)).toBeUndefined();
  });

  it('appends a device label and keeps ids valid subject material', () => {
    const h = describeHardware(sources({ label: 'Slot-1' }));
    expect(h.hardwareClass.endsWith('.slot-1')).toBe(true);
    expect(slug('AMD EPYC 7R13 Processor')).toBe('amd-epyc-7r13');
    expect(slug('Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz')).toBe('intel-core-i7-8700');
  });

  it('counts CPU lists and reads this machine', () => {
    expect(countCpuList('0-3,6,8-9')).toBe(7);
    expect(countCpuList('1')).toBe(1);
    const here = describeHardware(readHardwareSources(WASM));
    expect(here.cpuCores).toBeGreaterThan(0);
    expect(describeHardware(readHardwareSources(WASM)).hardwareClass).toBe(here.hardwareClass);
  });
});
