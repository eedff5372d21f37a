// The kiosk's camera: the rear camera by default, read continuously for QR codes. Browsers with a
// QR-capable BarcodeDetector (Chrome on Android and macOS, Safari with it enabled) use it; every
// other browser (Safari and Firefox on phones, Chromium on Linux and Windows) decodes frames with
// the vendored jsQR in a worker, so the page stays responsive while a frame is read.

/** Frames are shrunk to this width before decoding: enough for a badge held at 30 cm. */
const DECODE_WIDTH = 720;
/** Pause between two decoded frames, in ms: a few reads a second is plenty for a held-up badge. */
const FRAME_PAUSE_MS = 120;

async function barcodeDetector() {
  if (!('BarcodeDetector' in window)) return null;
  try {
    const formats = await window.BarcodeDetector.getSupportedFormats();
    if (!formats.includes('qr_code')) return null;
    const detector = new window.BarcodeDetector({ formats: ['qr_code'] });
    return async (source) => (await detector.detect(source)).map((code) => code.rawValue);
  } catch {
    return null;
  }
}

/** jsQR in a worker: one frame at a time, its pixels handed over rather than copied. */
function workerDecoder() {
  const worker = new Worker('/js/qr-worker.js');
  const canvas = document.createElement('canvas');
  const context = canvas.getContext('2d', { willReadFrequently: true });
  let next = 0;
  const waiting = new Map();
  worker.onmessage = ({ data }) => {
    waiting.get(data.id)?.(data.text ? [data.text] : []);
    waiting.delete(data.id);
  };
  const decode = (video) => {
    const scale = Math.min(1, DECODE_WIDTH / video.videoWidth);
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    const { data, width, height } = context.getImageData(0, 0, canvas.width, canvas.height);
    const id = ++next;
    return new Promise((resolve) => {
      waiting.set(id, resolve);
      worker.postMessage({ id, width, height, data }, [data.buffer]);
    });
  };
  decode.stop = () => worker.terminate();
  return decode;
}

/** Whether this browser can use a camera at all (the page must be served over HTTPS or localhost). */
export function cameraAvailable() {
  return Boolean(navigator.mediaDevices?.getUserMedia);
}

/**
 * Start the camera into `video` and call `onCode(text)` for every QR code seen, frame after frame
 * (the caller ignores a badge still held up). Resolves to a handle with `stop()`, `torch` (null
 * where the camera has no torch, else `{ on, set(on) }`) and `engine` ('BarcodeDetector' or
 * 'jsQR'). Rejects when there is no camera or permission is refused.
 */
export async function startCamera(video, onCode) {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: false,
    video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
  });
  video.srcObject = stream;
  await video.play();
  const native = await barcodeDetector();
  const decode = native ?? workerDecoder();
  const [track] = stream.getVideoTracks();

  let running = true;
  const loop = async () => {
    while (running) {
      if (video.readyState >= 2 && video.videoWidth > 0) {
        try {
          for (const text of await decode(video)) {
            if (running) onCode(text);
          }
        } catch {
          // A frame that cannot be read is skipped; the next one may be sharper.
        }
      }
      await new Promise((resolve) => setTimeout(resolve, FRAME_PAUSE_MS));
    }
  };
  loop();

  let torch = null;
  const capabilities = track?.getCapabilities?.() ?? {};
  if (capabilities.torch) {
    torch = {
      on: false,
      async set(on) {
        await track.applyConstraints({ advanced: [{ torch: on }] });
        torch.on = on;
      },
    };
  }
  return {
    engine: native ? 'BarcodeDetector' : 'jsQR',
    torch,
    stop() {
      running = false;
      decode.stop?.();
      for (const t of stream.getTracks()) t.stop();
      video.srcObject = null;
    },
  };
}
