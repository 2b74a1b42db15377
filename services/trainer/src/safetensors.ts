// The safetensors format (huggingface/safetensors, docs "Format"): an 8-byte little-endian header
// length N, N bytes of JSON mapping each tensor name to { dtype, shape, data_offsets: [begin, end) }
// relative to the byte buffer that follows (plus an optional "__metadata__" map of strings), then
// the buffer. Checkpoints and pretrained backbones use it so a user converts torchvision weights
// once with the `safetensors` Python package and loads them here.
import { readFile, writeFile, rename } from 'node:fs/promises';

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

export type TensorMap = Map<string, NamedTensor>;

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

const BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4 };

function float16ToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** Decodes one tensor to float32 (weights may come as F16/BF16/F64 from other tools). */
function toFloat32(bytes: Uint8Array, dtype: string, count: number, name: string): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      return out;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = float16ToFloat32(view.getUint16(i * 2, true));
      return out;
    case 'BF16': {
      // bfloat16 is the top half of a float32.
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = view.getUint16(i * 2, true) << 16;
      return out;
    }
    case 'I64':
      // torchvision state dicts carry BatchNorm's num_batches_tracked as int64.
      for (let i = 0; i < count; i++) out[i] = Number(view.getBigInt64(i * 8, true));
      return out;
    case 'I32':
      for (let i = 0; i < count; i++) out[i] = view.getInt32(i * 4, true);
      return out;
    default:
      throw new SafetensorsError(`tensor ${name}: unsupported dtype ${dtype}`);
  }
}

export function decodeSafetensors(file: Uint8Array, source = 'safetensors'): { tensors: TensorMap; metadata: Record<string, string> } {
  if (file.byteLength < 8) throw new SafetensorsError(`${source}: too short to be a safetensors file`);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > file.byteLength - 8) throw new SafetensorsError(`${source}: header length ${headerLength} exceeds the file`);
  let header: Record<string, HeaderEntry | Record<string, string>>;
  try {
    header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + headerLength)));
  } catch (err) {
    throw new SafetensorsError(`${source}: header is not JSON (${(err as Error).message})`);
  }
  const data = file.subarray(8 + headerLength);
  const tensors: TensorMap = new Map();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = entry as HeaderEntry;
    const size = BYTES[dtype];
    if (size === undefined) throw new SafetensorsError(`${source}: tensor ${name}: unsupported dtype ${dtype}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new SafetensorsError(`${source}: tensor ${name}: bad shape ${JSON.stringify(shape)}`);
    }
    const count = shape.reduce((a, b) => a * b, 1);
    const [begin, end] = offsets ?? [];
    if (!Number.isInteger(begin) || !Number.isInteger(end) || end! - begin! !== count * size || end! > data.byteLength) {
      throw new SafetensorsError(`${source}: tensor ${name}: data_offsets ${JSON.stringify(offsets)} do not fit ${dtype}${JSON.stringify(shape)}`);
    }
    tensors.set(name, { shape, data: toFloat32(data.subarray(begin, end), dtype, count, name) });
  }
  return { tensors, metadata };
}

/** F32 tensors, names sorted (the reference implementation's order), 8-byte aligned header. */
export function encodeSafetensors(tensors: TensorMap, metadata: Record<string, string> = {}): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new SafetensorsError(`tensor ${name}: shape ${JSON.stringify(t.shape)} holds ${count} values, data has ${t.data.length}`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + count * 4] };
    offset += count * 4;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((json.length + 8) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  const body = new DataView(out.buffer, 8 + headerBytes.byteLength);
  let at = 0;
  for (const name of names) {
    for (const v of tensors.get(name)!.data) {
      body.setFloat32(at, v, true);
      at += 4;
    }
  }
  return out;
}

export async function readSafetensors(path: string): Promise<{ tensors: TensorMap; metadata: Record<string, string> }> {
  let file: Buffer;
  try {
    file = await readFile(path);
  } catch (err) {
    throw new SafetensorsError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return decodeSafetensors(new Uint8Array(file.buffer, file.byteOffset, file.byteLength), path);
}

/** Written to a temporary name and renamed, so a killed trainer never leaves half a checkpoint. */
export async function writeSafetensors(path: string, tensors: TensorMap, metadata?: Record<string, string>): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, encodeSafetensors(tensors, metadata));
  await rename(tmp, path);
}
