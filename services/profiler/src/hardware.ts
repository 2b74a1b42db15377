// What this profiler measures on, and the stable hardware-class id derived from it. A latency is a
// fact about (architecture, device, software): the class id names everything that changes the
// number and nothing that does not (no driver patch levels, no host names), so two machines of the
// same kind share measurements and one profiler never answers for another kind.
//
//   gpu.nvidia-h100-80gb.tfjs-node-gpu-4.22
//   gpu.nvidia-h200-140gb.webgpu-dawn-0.6
//   cpu.amd-epyc.2c-avx2-fma.wasm-simd-4.22-onednn-2.6
//   cpu.amd-epyc.2c-avx2-fma.webgpu-dawn-0.6-mesa-software   (lavapipe: a CPU, whatever the API)
//
// The description is read from /proc/cpuinfo, the process's CPU affinity (/proc/self/status),
// `nvidia-smi` when present, the WebGPU adapter and the DRM device's memory (AMD, Intel); the
// parsing is pure (tests feed it text) and the reading is separate.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { BackendInfo } from '@sm-nas/tfjs-runtime';
import { readdirSync } from 'node:fs';

export interface GpuDescription {
  product: string;
  memoryBytes: number;
  driverVersion: string;
  cudaVersion: string;
}

export interface HardwareDescription {
  hardwareClass: string;
  deviceKind: 'cpu' | 'gpu';
  gpu: GpuDescription | undefined;
  cpuModel: string;
  /** CPUs this process may run on (its affinity), not the machine's. */
  cpuCores: number;
  /** The ISA extensions that decide kernel speed, as /proc/cpuinfo names them. */
  cpuIsaFlags: string[];
  /** tfjs backend name (`wasm`, `tensorflow`, `cpu`). */
  backend: string;
  /** Package and version that runs the kernels, plus native convolutions when on. */
  backendVersion: string;
}

/** Extensions that change which kernels run (XNNPACK, oneDNN, Eigen pick by these). */
export const RELEVANT_ISA_FLAGS = [
  'sse4_2', 'avx', 'avx2', 'fma', 'f16c', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx512_bf16', 'amx_tile',
  'asimd', 'asimddp', 'sve', 'sve2',
] as const;

export interface HardwareSources {
  cpuinfo: string;
  /** CPUs in the affinity mask; undefined when unknown. */
  allowedCpus: number | undefined;
  /** `nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader,nounits` (first line used). */
  nvidiaSmiQuery: string | undefined;
  /** Plain `nvidia-smi` output (for "CUDA Version: 12.2"). */
  nvidiaSmi: string | undefined;
  backend: Pick<BackendInfo, 'name' | 'version' | 'simd' | 'native' | 'adapter'> & { threads?: number };
  /** Video memory of the GPUs' DRM devices in bytes (amdgpu's mem_info_vram_total), for GPUs nvidia-smi does not know. */
  drmVramBytes?: number[];
  /**
   * Distinguishes devices the description cannot tell apart (two GPU slots pinned to different
   * NUMA nodes, a test running two profilers side by side). Appended to the class id.
   */
  label?: string;
}

/** Lower-case `[a-z0-9-]` with single dashes: `Intel(R) Xeon(R) Platinum 8488C` -> `intel-xeon-platinum-8488c`. */
export function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/\((r|tm|c)\)/g, ' ')
    .replace(/\b(cpu|processor)\b|@.*$/g, ' ')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

function cpuinfoField(cpuinfo: string, names: readonly string[]): string | undefined {
  for (const name of names) {
    const m = new RegExp(`^${name}\\s*:\\s*(.*)$`, 'mi').exec(cpuinfo);
    if (m?.[1]?.trim()) return m[1].trim();
  }
  return undefined;
}

/** Major.minor of the last version in `text` (`@tensorflow/tfjs-backend-wasm@4.22.0` -> `4.22`). */
function majorMinor(text: string): string {
  const versions = text.match(/\d+\.\d+(\.\d+)?/g);
  const last = versions?.at(-1);
  return last ? last.split('.').slice(0, 2).join('.') : '';
}

function isaLevel(flags: ReadonlySet<string>): string {
  const level = flags.has('avx512f') ? 'avx512' : flags.has('avx2') ? 'avx2' : flags.has('avx') ? 'avx'
    : flags.has('sve') ? 'sve' : flags.has('asimd') ? 'neon' : flags.has('sse4_2') ? 'sse4' : 'base';
  return flags.has('fma') && level.startsWith('avx') ? `${level}-fma` : level;
}

/** `wasm-simd-4.22-onednn-2.6`, `tfjs-node-gpu-4.22`, `cpu-js-4.22`. */
export function backendSlug(backend: HardwareSources['backend']): string {
  const version = majorMinor(backend.version);
  if (backend.name === 'tensorflow') {
    const pkg = /@tensorflow\/(tfjs-node(-gpu)?)/.exec(backend.version)?.[1] ?? 'tensorflow';
    return `${pkg}-${version}`;
  }
  if (backend.name === 'cpu') return `cpu-js-${version}`;
  if (backend.name === 'webgpu') {
    // The Dawn release decides the WGSL compiler and the backend's kernels; a software adapter names
    // itself so that it can never share measurements with a GPU.
    const software = backend.adapter?.software ? `-${slug(backend.adapter.vendor) || 'unknown'}-software` : '';
    return `webgpu-dawn-${version}${software}`;
  }
  // `oneDNN 2.6.3` -> `-onednn-2.6`: native convolutions change the kernels, so they are part of the class.
  const native = backend.native ? `-${slug(backend.native.replace(/\d.*$/, ''))}-${majorMinor(backend.native)}` : '';
  return `wasm${backend.simd ? '-simd' : ''}-${version}${native}`;
}

export function describeHardware(sources: HardwareSources): HardwareDescription {
  const adapter = sources.backend.adapter;
  const webgpu = sources.backend.name === 'webgpu' && adapter !== undefined && !adapter.software;
  const smi = parseNvidiaSmi(sources.nvidiaSmiQuery, sources.nvidiaSmi);
  // nvidia-smi names the GPU exactly (and its memory); a WebGPU adapter of another vendor names itself.
  const gpu = webgpu && !(smi && /nvidia/i.test(adapter.vendor)) ? adapterGpu(adapter, sources.drmVramBytes) : smi;
  // The GPU is the device only when the backend runs kernels on it.
  const onGpu = gpu !== undefined && (sources.backend.version.includes('tfjs-node-gpu') || webgpu);
  const cpuModel = cpuinfoField(sources.cpuinfo, ['model name', 'Model', 'Hardware', 'cpu model']) ?? (os.cpus()[0]?.model ?? 'unknown');
  const flagText = cpuinfoField(sources.cpuinfo, ['flags', 'Features']) ?? '';
  const present = new Set(flagText.split(/\s+/).filter(Boolean));
  const cpuIsaFlags = RELEVANT_ISA_FLAGS.filter((f) => present.has(f));
  const processors = (sources.cpuinfo.match(/^processor\s*:/gim) ?? []).length;
  const cpuCores = sources.allowedCpus ?? (processors || os.availableParallelism());
  const backendVersion = sources.backend.native ? `${sources.backend.version} + ${sources.backend.native}` : sources.backend.version;
  // Kernels on fewer threads than the pinned CPUs are another device in effect.
  const threads = !onGpu && sources.backend.threads && sources.backend.threads !== cpuCores ? `-${sources.backend.threads}t` : '';
  const device = onGpu
    ? `gpu.${slug(gpu.product)}${gpu.memoryBytes > 0 ? `-${Math.round(gpu.memoryBytes / 2 ** 30)}gb` : ''}`
    : `cpu.${slug(cpuModel) || 'unknown'}.${cpuCores}c${threads}-${isaLevel(present)}`;
  const label = sources.label ? `.${slug(sources.label)}` : '';
  return {
    hardwareClass: `${device}.${backendSlug(sources.backend)}${label}`,
    deviceKind: onGpu ? 'gpu' : 'cpu',
    gpu: onGpu ? gpu : undefined,
    cpuModel,
    cpuCores,
    cpuIsaFlags,
    backend: sources.backend.name,
    backendVersion,
  };
}

/** A GPU as its WebGPU adapter describes it (`AMD Radeon RX 7900 XTX (RADV NAVI31)` -> `amd-radeon-rx-7900-xtx`). */
function adapterGpu(adapter: NonNullable<HardwareSources['backend']['adapter']>, vram: number[] | undefined): GpuDescription {
  const product = adapter.device.replace(/\s*\((radv|anv|nvk|mesa)[^)]*\)\s*$/i, '');
  return { product, memoryBytes: vram?.length === 1 ? vram[0]! : 0, driverVersion: adapter.description, cudaVersion: '' };
}

export function parseNvidiaSmi(query: string | undefined, full: string | undefined): GpuDescription | undefined {
  const line = query?.split('\n').find((l) => l.trim());
  if (!line) return undefined;
  const [product, memoryMib, driverVersion] = line.split(',').map((s) => s.trim());
  if (!product) return undefined;
  return {
    product,
    memoryBytes: Math.round(Number(memoryMib) || 0) * 2 ** 20,
    driverVersion: driverVersion ?? '',
    cudaVersion: /CUDA Version:\s*([\d.]+)/.exec(full ?? '')?.[1] ?? '',
  };
}

/** Count of CPUs in a Linux list such as `0-3,6,8-9`. */
export function countCpuList(list: string): number {
  let n = 0;
  for (const part of list.trim().split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (a === undefined || !Number.isInteger(a)) continue;
    n += b !== undefined && Number.isInteger(b) ? b - a + 1 : 1;
  }
  return n;
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function run(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
  } catch {
    return undefined;
  }
}

/** Video memory of each DRM card that reports it (amdgpu; i915 and nvidia do not). */
function readDrmVram(): number[] {
  let cards: string[] = [];
  try {
    cards = readdirSync('/sys/class/drm').filter((c) => /^card\d+$/.test(c));
  } catch {
    return [];
  }
  return cards.map((c) => Number(readOr(`/sys/class/drm/${c}/device/mem_info_vram_total`).trim())).filter((n) => n > 0);
}

/** Reads this machine's sources (cpuinfo, affinity, nvidia-smi if installed). */
export function readHardwareSources(backend: HardwareSources['backend'], label?: string): HardwareSources {
  const allowed = /^Cpus_allowed_list:\s*(.+)$/m.exec(readOr('/proc/self/status'))?.[1];
  const query = run('nvidia-smi', ['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader,nounits']);
  return {
    drmVramBytes: readDrmVram(),
    cpuinfo: readOr('/proc/cpuinfo'),
    allowedCpus: allowed ? countCpuList(allowed) : undefined,
    nvidiaSmiQuery: query,
    nvidiaSmi: query ? run('nvidia-smi', []) : undefined,
    backend,
    ...(label ? { label } : {}),
  };
}
