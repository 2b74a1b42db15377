import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, readSafetensors, SafetensorsError, writeSafetensors, type TensorMap } from './safetensors.js';

const dir = mkdtempSync(join(tmpdir(), 'safetensors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A file assembled by hand from the format's definition (huggingface/safetensors docs, "Format"). */
function handMade(header: object, body: number[], bodyBytes?: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const data = bodyBytes ?? new Uint8Array(new Float32Array(body).buffer);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors', () => {
  it('decodes a hand-made file with metadata, F32 and F16 tensors', () => {
    // F16 1.0 = 0x3c00, -2.0 = 0xc000, 0.5 = 0x3800 (IEEE 754 binary16).
    const f16 = new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x3800]).buffer);
    const f32 = new Uint8Array(new Float32Array([1.5, -3, 0.25, 7]).buffer);
    const body = new Uint8Array(f32.length + f16.length);
    body.set(f32, 0);
    body.set(f16, f32.length);
    const file = handMade(
      {
        __metadata__: { format: 'pt' },
        'layer1.0.conv1.weight': { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] },
        'fc.bias': { dtype: 'F16', shape: [3], data_offsets: [16, 22] },
      },
      [],
      body,
    );
    const { tensors, metadata } = decodeSafetensors(file);
    expect(metadata).toEqual({ format: 'pt' });
    expect([...tensors.get('layer1.0.conv1.weight')!.data]).toEqual([1.5, -3, 0.25, 7]);
    expect(tensors.get('layer1.0.conv1.weight')!.shape).toEqual([2, 2]);
    expect([...tensors.get('fc.bias')!.data]).toEqual([1, -2, 0.5]);
  });

  it('round-trips through a file, with an 8-byte aligned header', async () => {
    const tensors: TensorMap = new Map([
      ['b', { shape: [3], data: new Float32Array([1, 2, 3]) }],
      ['a', { shape: [1, 2], data: new Float32Array([-1, 0.5]) }],
    ]);
    const path = join(dir, 'x.safetensors');
    await writeSafetensors(path, tensors, { arch: 'resnet18' });
    const bytes = encodeSafetensors(tensors, { arch: 'resnet18' });
    expect(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8).toBe(0);
    const back = await readSafetensors(path);
    expect(back.metadata).toEqual({ arch: 'resnet18' });
    expect([...back.tensors.keys()].sort()).toEqual(['a', 'b']);
    expect([...back.tensors.get('a')!.data]).toEqual([-1, 0.5]);
  });

  it('names the tensor whose offsets do not fit, and the file that is missing', async () => {
    const bad = handMade({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, [1, 2]);
    expect(() => decodeSafetensors(bad, 'bad.safetensors')).toThrow(/bad\.safetensors: tensor w: data_offsets/);
    await expect(readSafetensors(join(dir, 'missing.safetensors'))).rejects.toThrow(SafetensorsError);
  });
});
