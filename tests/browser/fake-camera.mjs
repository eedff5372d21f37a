// A fake camera for the kiosk scenarios: Chromium started with
//   --use-fake-device-for-media-stream --use-file-for-fake-video-capture=<file.y4m>
// gives getUserMedia a camera that plays that file (looping at its end). Chromium reads only raw
// YUV4MPEG2 (or MJPEG) there, so the badge QR PNGs are converted here, with no dependency but
// pngjs, rather than with ffmpeg, which the test machines need not have.
//
//   import { writeY4m } from './fake-camera.mjs';
//   writeY4m('/tmp/cam.y4m', [readFileSync('badge-qr.png')]);
//
// Raw video is large: every frame is width × height × 1.5 bytes (460,800 at 640×480), so a file
// holds (secondsEach + blankBetween) × fps frames per image — 25 frames, 11.5 MB, per image with
// the defaults. Pass a lower fps for longer sequences; the kiosk only needs a frame to be there
// when it looks.

import { closeSync, openSync, writeSync } from 'node:fs';
import { PNG } from 'pngjs';

/**
 * Writes `file` as a YUV4MPEG2 video (4:2:0, BT.601 full range, i.e. `C420jpeg`) showing each PNG
 * of `pngBuffers` for `secondsEach` seconds, centred on white and scaled (nearest neighbour, so QR
 * modules stay sharp-edged) to fit within 80% of the frame, each followed by `blankBetween`
 * seconds of white. The white after the last image separates it from the first when Chromium
 * loops the file, so every image appears as a new scan each time round.
 * Returns { frames, bytes }.
 */
export function writeY4m(
  file,
  pngBuffers,
  { width = 640, height = 480, fps = 10, secondsEach = 2, blankBetween = 0.5 } = {},
) {
  // 4:2:0 halves both chroma dimensions, so odd sizes have no exact layout.
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)
    || width % 2 || height % 2) {
    throw new Error(`frame size must be positive and even, got ${width}×${height}`);
  }
  if (!Number.isInteger(fps) || fps <= 0) throw new Error(`fps must be a positive integer, got ${fps}`);
  const images = Buffer.isBuffer(pngBuffers) ? [pngBuffers] : [...pngBuffers];
  if (images.length === 0) throw new Error('no images');

  const imageFrames = Math.max(1, Math.round(secondsEach * fps));
  const blankFrames = Math.max(0, Math.round(blankBetween * fps));
  const white = yuvFrame(width, height, null);

  const fd = openSync(file, 'w');
  let frames = 0;
  let bytes = 0;
  const write = (buffer) => {
    bytes += writeSync(fd, buffer);
  };
  try {
    // Ip: progressive; A1:1: square pixels.
    write(Buffer.from(`YUV4MPEG2 W${width} H${height} F${fps}:1 Ip A1:1 C420jpeg\n`, 'ascii'));
    const frameHeader = Buffer.from('FRAME\n', 'ascii');
    for (const png of images) {
      // One conversion per image; the same bytes are written for each of its frames.
      const frame = yuvFrame(width, height, PNG.sync.read(png));
      for (let i = 0; i < imageFrames; i++, frames++) {
        write(frameHeader);
        write(frame);
      }
      for (let i = 0; i < blankFrames; i++, frames++) {
        write(frameHeader);
        write(white);
      }
    }
  } finally {
    closeSync(fd);
  }
  return { frames, bytes };
}

/** One frame's Y, U and V planes: the image (or nothing) centred on white. */
function yuvFrame(width, height, image) {
  const rgb = paint(width, height, image);
  const chromaWidth = width / 2;
  const chromaHeight = height / 2;
  const ySize = width * height;
  const cSize = chromaWidth * chromaHeight;
  const out = Buffer.alloc(ySize + 2 * cSize);

  for (let i = 0; i < ySize; i++) {
    const r = rgb[3 * i];
    const g = rgb[3 * i + 1];
    const b = rgb[3 * i + 2];
    out[i] = clamp(0.299 * r + 0.587 * g + 0.114 * b);
  }
  // Chroma from the mean of each 2×2 block: C420jpeg sites chroma between the four pixels.
  for (let cy = 0; cy < chromaHeight; cy++) {
    for (let cx = 0; cx < chromaWidth; cx++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
        const p = 3 * ((2 * cy + dy) * width + 2 * cx + dx);
        r += rgb[p];
        g += rgb[p + 1];
        b += rgb[p + 2];
      }
      r /= 4;
      g /= 4;
      b /= 4;
      const c = cy * chromaWidth + cx;
      out[ySize + c] = clamp(128 - 0.168736 * r - 0.331264 * g + 0.5 * b); // U (Cb)
      out[ySize + cSize + c] = clamp(128 + 0.5 * r - 0.418688 * g - 0.081312 * b); // V (Cr)
    }
  }
  return out;
}

/** RGB pixels of a white frame with `image` (pngjs RGBA, or null) scaled and centred. */
function paint(width, height, image) {
  const rgb = new Uint8Array(width * height * 3).fill(255);
  if (!image) return rgb;
  // Fit within 80% of the frame either way, leaving a white margin like the paper around a badge.
  const scale = Math.min((0.8 * height) / image.height, (0.8 * width) / image.width);
  const w = Math.max(1, Math.round(image.width * scale));
  const h = Math.max(1, Math.round(image.height * scale));
  const left = Math.floor((width - w) / 2);
  const top = Math.floor((height - h) / 2);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(image.height - 1, Math.floor(((y + 0.5) * image.height) / h));
    for (let x = 0; x < w; x++) {
      const sx = Math.min(image.width - 1, Math.floor(((x + 0.5) * image.width) / w));
      const s = 4 * (sy * image.width + sx);
      // pngjs gives every colour type as 8-bit RGBA; transparency shows the white behind it.
      const a = image.data[s + 3] / 255;
      const d = 3 * ((top + y) * width + left + x);
      for (let k = 0; k < 3; k++) rgb[d + k] = clamp(image.data[s + k] * a + 255 * (1 - a));
    }
  }
  return rgb;
}

function clamp(v) {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}
