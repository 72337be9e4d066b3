import { describe, it, expect } from 'vitest';
import sharp from 'sharp';
import { decodePngRgb, PngError } from '../../src/model/png.js';
import { renderFrame } from '../../src/world/render.js';
import { Drive } from '../../src/world/drive.js';

/** A deterministic test image with gradients and noise, so that every filter type is chosen somewhere. */
function pattern(width: number, height: number, channels: 3 | 4): Buffer {
  const b = Buffer.alloc(width * height * channels);
  let s = 12345;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let c = 0; c < channels; c++) {
        s = (s * 1103515245 + 12345) >>> 0;
        b[(y * width + x) * channels + c] = y < height / 2 ? (x * 3 + y * (c + 1)) & 255 : (s >>> 24) ^ (x & 0xf0);
      }
  return b;
}

async function sharpRgb(png: Buffer): Promise<Buffer> {
  return sharp(png).removeAlpha().raw().toBuffer();
}

describe('PNG fast path (checked against sharp/libvips)', () => {
  it.each([
    ['RGB, adaptive filtering (all five filters)', 3, { adaptiveFiltering: true, compressionLevel: 9 }],
    ['RGB, no filtering', 3, { adaptiveFiltering: false, compressionLevel: 1 }],
    ['RGBA, adaptive filtering', 4, { adaptiveFiltering: true, compressionLevel: 6 }],
  ] as const)('%s decodes byte-identical to sharp', async (_name, channels, options) => {
    const png = await sharp(pattern(97, 61, channels), { raw: { width: 97, height: 61, channels } }).png(options).toBuffer();
    const image = decodePngRgb(png, 'pattern.png');
    expect(image).toBeDefined();
    expect(image!.width).toBe(97);
    expect(Buffer.from(image!.data).equals(await sharpRgb(png))).toBe(true);
  });

  it('decodes a world frame byte-identical to sharp', async () => {
    const drive = new Drive({ driveId: 'd', seed: 3, conditions: { weather: 'rain', timeOfDay: 'night', roadType: 'urban', region: 'north' } });
    drive.step();
    const png = await sharp(Buffer.from(renderFrame(drive.state()).rgb), { raw: { width: 320, height: 192, channels: 3 } }).png({ adaptiveFiltering: false }).toBuffer();
    const image = decodePngRgb(png, 'frame.png');
    expect(Buffer.from(image!.data).equals(await sharpRgb(png))).toBe(true);
  });

  it('leaves palette, grey and 16-bit images to sharp', async () => {
    const rgb = pattern(16, 8, 3);
    for (const png of [
      await sharp(rgb, { raw: { width: 16, height: 8, channels: 3 } }).png({ palette: true }).toBuffer(),
      await sharp(rgb, { raw: { width: 16, height: 8, channels: 3 } }).toColourspace('b-w').png().toBuffer(),
      await sharp(rgb, { raw: { width: 16, height: 8, channels: 3 } }).toColourspace('rgb16').png().toBuffer(),
    ])
      expect(decodePngRgb(png, 'x.png')).toBeUndefined();
  });

  it('names the file and what is wrong with a broken PNG', async () => {
    const png = await sharp(pattern(20, 10, 3), { raw: { width: 20, height: 10, channels: 3 } }).png().toBuffer();
    expect(() => decodePngRgb(Buffer.from('not a png at all'), 'a.png')).toThrow(/a\.png: not a PNG file/);
    expect(() => decodePngRgb(png.subarray(0, png.length - 30), 'b.png')).toThrow(/b\.png: .*(runs past the end|truncated)/);
    const corrupt = Buffer.from(png);
    const idat = corrupt.indexOf('IDAT');
    corrupt.fill(0x55, idat + 10, idat + 40);
    expect(() => decodePngRgb(corrupt, 'c.png')).toThrow(PngError);
    expect(() => decodePngRgb(corrupt, 'c.png')).toThrow(/c\.png: corrupt image data/);
  });
});
