/**
 * A bundle frame's compressed image to RGB8: PNG with paddock's own decoder (src/model/png.ts,
 * exact), JPEG with sharp (libjpeg-turbo; the same build decodes the same bytes to the same
 * pixels). The formats foxglove.CompressedImage names; anything else is refused by name.
 */
import { decodePngRgb } from '../model/png.js';
import { InputError } from '../files/input-error.js';

export interface DecodedFrame {
  data: Uint8Array;
  width: number;
  height: number;
}

/** RGB8 pixels of a `format` ('png', 'jpeg' or 'jpg') image; `where` names it in errors. */
export async function decodeFrameRgb(format: string, data: Uint8Array, where: string): Promise<DecodedFrame> {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (format === 'png') {
    const img = decodePngRgb(buf, where);
    if (!img) throw new InputError(`${where}: the PNG is not 8-bit RGB`);
    return { data: img.data, width: img.width, height: img.height };
  }
  if (format === 'jpeg' || format === 'jpg') {
    const sharp = (await import('sharp')).default;
    try {
      const { data: px, info } = await sharp(buf).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
      if (info.channels !== 3) throw new Error(`${info.channels} channels`);
      return { data: new Uint8Array(px.buffer, px.byteOffset, px.byteLength), width: info.width, height: info.height };
    } catch (err) {
      throw new InputError(`${where}: the JPEG does not decode: ${(err as Error).message}`);
    }
  }
  throw new InputError(`${where}: image format ${JSON.stringify(format)} is not one replay decodes (png, jpeg)`);
}
