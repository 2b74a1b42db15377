// PNG/JPEG decoding to RGB and PNG encoding, on pngjs and jpeg-js (pure JS, no native deps).
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import type { RgbImage } from './types.js';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function isPng(bytes: Uint8Array): boolean {
  return PNG_SIGNATURE.every((b, i) => bytes[i] === b);
}

function isJpeg(bytes: Uint8Array): boolean {
  return bytes[0] === 0xff && bytes[1] === 0xd8;
}

/**
 * Decode PNG or JPEG bytes (sniffed from the signature, not the file name) to 8-bit RGB.
 * Grayscale is replicated to three channels; alpha is dropped (not composited), as PIL's
 * `convert('RGB')` does; 16-bit PNG is rescaled to 8 bits; palette PNG is expanded.
 */
export function decodeImage(bytes: Uint8Array): RgbImage {
  if (isPng(bytes)) {
    // pngjs always normalises to 8-bit RGBA.
    const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    const { width, height } = png;
    const rgba = png.data;
    const data = new Uint8Array(width * height * 3);
    for (let i = 0, j = 0; i < data.length; i += 3, j += 4) {
      data[i] = rgba[j] as number;
      data[i + 1] = rgba[j + 1] as number;
      data[i + 2] = rgba[j + 2] as number;
    }
    return { width, height, data };
  }
  if (isJpeg(bytes)) {
    // formatAsRGBA: false gives three channels for every JPEG, grayscale included.
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
    return { width: img.width, height: img.height, data: img.data };
  }
  throw new Error('not a PNG or JPEG (unrecognised signature)');
}

/** Encode RGB pixels as an 8-bit truecolour PNG (colour type 2); deterministic for given pixels. */
export function encodePng(image: RgbImage): Buffer {
  const { width, height, data } = image;
  if (data.length !== width * height * 3) {
    throw new RangeError(`RGB image ${width}x${height} needs ${width * height * 3} bytes, got ${data.length}`);
  }
  const png = new PNG({ width, height, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  png.data = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false });
}
