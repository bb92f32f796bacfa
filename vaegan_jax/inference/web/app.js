// The page of `vaegan-inpaint serve`: open a photo, paint the hole on a
// canvas, ask the server to fill it, pick one of the fills, download it.
// Plain JS, no libraries; every request goes to the page's own server.
'use strict';

const $ = (id) => document.getElementById(id);
const photoCanvas = $('photo'), maskCanvas = $('mask');
const photoCtx = photoCanvas.getContext('2d');
const maskCtx = maskCanvas.getContext('2d');

const state = {
  photoId: null,      // the server's id of the image being painted on
  base: null,         // its pixels, as an ImageBitmap or <img>
  ops: [],            // strokes and clears: undo replays all but the last
  stroke: null,       // the stroke being drawn
  zoom: 1,
  results: [],        // [{id, label}] of the last fill
  shown: null,        // the result on the canvas (null: the photo)
  seed: 0,
  busy: false,
};

function status(text, isError = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', isError);
}

async function api(path, options) {
  const response = await fetch(path, options);
  const payload = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(payload.error || `${response.status} ${response.statusText}`);
  }
  return payload;
}

function loadImage(src) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error('the browser could not show this image'));
    img.src = src;
  });
}

// ---------------------------------------------------------------- photos

async function openFile(file) {
  if (!file) return;
  status(`Opening ${file.name}…`);
  try {
    const info = await api('/api/photo', {method: 'POST', body: file});
    const img = await loadImage(URL.createObjectURL(file));
    setBase(info.id, img, info.width, info.height);
    status(`${file.name}: ${info.width}×${info.height}. Paint over what should go.`);
  } catch (e) {
    status(`Cannot open ${file.name}: ${e.message}`, true);
  }
}

function setBase(id, img, width, height) {
  state.photoId = id;
  state.base = img;
  state.ops = [];
  state.results = [];
  state.shown = null;
  for (const canvas of [photoCanvas, maskCanvas]) {
    canvas.width = width;
    canvas.height = height;
  }
  photoCtx.drawImage(img, 0, 0, width, height);
  maskCtx.clearRect(0, 0, width, height);
  $('stage').hidden = false;
  $('drop').hidden = true;
  $('stage').classList.remove('viewing');
  renderResults();
  zoomToFit();
  updateButtons();
}

// ---------------------------------------------------------------- painting

function toImage(event) {
  const rect = maskCanvas.getBoundingClientRect();
  return [(event.clientX - rect.left) * maskCanvas.width / rect.width,
          (event.clientY - rect.top) * maskCanvas.height / rect.height];
}

function drawStroke(ctx, stroke) {
  ctx.save();
  ctx.globalCompositeOperation = stroke.erase ? 'destination-out' : 'source-over';
  ctx.strokeStyle = ctx.fillStyle = '#ff2a2a';
  ctx.lineWidth = stroke.size;
  ctx.lineCap = ctx.lineJoin = 'round';
  const [x0, y0] = stroke.points[0];
  ctx.beginPath();
  ctx.arc(x0, y0, stroke.size / 2, 0, 2 * Math.PI);
  ctx.fill();
  if (stroke.points.length > 1) {
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    for (const [x, y] of stroke.points.slice(1)) ctx.lineTo(x, y);
    ctx.stroke();
  }
  ctx.restore();
}

function replay() {
  maskCtx.clearRect(0, 0, maskCanvas.width, maskCanvas.height);
  for (const op of state.ops) {
    if (op.clear) maskCtx.clearRect(0, 0, maskCanvas.width, maskCanvas.height);
    else drawStroke(maskCtx, op);
  }
}

maskCanvas.addEventListener('pointerdown', (event) => {
  if (!state.photoId || state.busy || event.button !== 0) return;
  showPhoto();
  maskCanvas.setPointerCapture(event.pointerId);
  state.stroke = {points: [toImage(event)], size: +$('brush').value,
                  erase: $('eraser').getAttribute('aria-pressed') === 'true'};
  state.ops.push(state.stroke);
  drawStroke(maskCtx, state.stroke);
  updateButtons();
});

maskCanvas.addEventListener('pointermove', (event) => {
  if (!state.stroke) return;
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  const stroke = state.stroke;
  for (const e of events.length ? events : [event]) {
    const last = stroke.points[stroke.points.length - 1];
    const point = toImage(e);
    stroke.points.push(point);
    // Only the new segment is drawn: smooth on a 12 MP canvas too.
    drawStroke(maskCtx, {points: [last, point], size: stroke.size,
                         erase: stroke.erase});
  }
});

function endStroke() { state.stroke = null; }
maskCanvas.addEventListener('pointerup', endStroke);
maskCanvas.addEventListener('pointercancel', endStroke);

function maskDataUrl() {
  // White where painted (any coverage), black elsewhere, at full size.
  const {width, height} = maskCanvas;
  const painted = maskCtx.getImageData(0, 0, width, height).data;
  const out = new ImageData(width, height);
  let any = false;
  for (let i = 0; i < painted.length; i += 4) {
    const v = painted[i + 3] > 0 ? 255 : 0;
    any = any || v > 0;
    out.data[i] = out.data[i + 1] = out.data[i + 2] = v;
    out.data[i + 3] = 255;
  }
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  canvas.getContext('2d').putImageData(out, 0, 0);
  return {url: canvas.toDataURL('image/png'), any};
}

// ---------------------------------------------------------------- zoom

function setZoom(zoom) {
  state.zoom = Math.min(8, Math.max(0.02, zoom));
  const stage = $('stage');
  stage.style.width = `${Math.round(photoCanvas.width * state.zoom)}px`;
  stage.style.height = `${Math.round(photoCanvas.height * state.zoom)}px`;
  $('zoomValue').textContent = `${Math.round(state.zoom * 100)}%`;
}

function zoomToFit() {
  const view = $('viewport');
  setZoom(Math.min((view.clientWidth - 24) / photoCanvas.width,
                   (view.clientHeight - 24) / photoCanvas.height, 4));
}

$('zoomIn').onclick = () => setZoom(state.zoom * 1.25);
$('zoomOut').onclick = () => setZoom(state.zoom / 1.25);
$('zoomFit').onclick = zoomToFit;
$('viewport').addEventListener('wheel', (event) => {
  if (!event.ctrlKey || !state.photoId) return;
  event.preventDefault();
  setZoom(state.zoom * (event.deltaY < 0 ? 1.1 : 1 / 1.1));
}, {passive: false});

// ---------------------------------------------------------------- filling

function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

async function fill(newSeed) {
  if (!state.photoId || state.busy) return;
  const mask = maskDataUrl();
  if (!mask.any) {
    status('Paint over the part to replace first.', true);
    return;
  }
  if (newSeed) state.seed += 1;
  const samples = Math.max(0, Math.min(8, +$('samples').value || 0));
  state.busy = true;
  updateButtons();
  const progress = $('progress');
  progress.hidden = false;
  progress.value = 0;
  status('Filling…');
  try {
    let job = await api('/api/fill', {
      method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({photo: state.photoId, mask: mask.url, samples,
                            seed: state.seed})});
    while (job.state === 'running') {
      progress.value = job.done / job.total;
      status(`Filling: ${job.done} of ${job.total} done, ${job.seconds} s` +
             (job.done === 0 ? ' (the first fill compiles the model)' : ''));
      await sleep(300);
      job = await api(`/api/job/${job.id}`);
    }
    if (job.state === 'error') throw new Error(job.error);
    progress.value = 1;
    state.results = job.results.map((id, i) => ({
      id, label: i === 0 ? 'Default' : `Alternative ${i}`}));
    renderResults();
    await showResult(state.results[0].id);
    status(`Filled in ${job.seconds} s. Click a fill to see it; hold ` +
           '"Hold to compare" (or C) for the original.');
  } catch (e) {
    status(`Fill failed: ${e.message}`, true);
  } finally {
    state.busy = false;
    progress.hidden = true;
    updateButtons();
  }
}

$('fill').onclick = () => fill(false);
$('again').onclick = () => fill(true);

function renderResults() {
  const box = $('results');
  box.replaceChildren();
  for (const result of state.results) {
    const figure = document.createElement('figure');
    figure.dataset.id = result.id;
    figure.classList.toggle('selected', state.shown === result.id);
    const img = document.createElement('img');
    img.src = `/api/image/${result.id}/thumb.png`;
    img.alt = result.label;
    const caption = document.createElement('figcaption');
    caption.textContent = result.label;
    figure.append(img, caption);
    figure.onclick = () => showResult(result.id);
    box.append(figure);
  }
  $('resultActions').hidden = state.results.length === 0;
}

async function showResult(id) {
  const img = await loadImage(`/api/image/${id}.png`);
  state.shown = id;
  state.shownImage = img;
  photoCtx.drawImage(img, 0, 0, photoCanvas.width, photoCanvas.height);
  $('stage').classList.add('viewing');
  $('download').href = `/api/image/${id}.png`;
  renderResults();
}

function showPhoto() {
  if (state.shown === null) return;
  photoCtx.drawImage(state.base, 0, 0, photoCanvas.width, photoCanvas.height);
  $('stage').classList.remove('viewing');
  state.shown = null;
  renderResults();
}

function compare(on) {
  if (state.shown === null) return;
  const img = on ? state.base : state.shownImage;
  photoCtx.drawImage(img, 0, 0, photoCanvas.width, photoCanvas.height);
}

$('compare').addEventListener('pointerdown', () => compare(true));
for (const type of ['pointerup', 'pointerleave']) {
  $('compare').addEventListener(type, () => compare(false));
}

$('useResult').onclick = async () => {
  if (state.shown === null) return;
  const id = state.shown;
  setBase(id, state.shownImage, photoCanvas.width, photoCanvas.height);
  status('Painting on the fill: paint more and press Fill again.');
};

// ---------------------------------------------------------------- controls

function updateButtons() {
  const ready = state.photoId !== null && !state.busy;
  $('fill').disabled = !ready;
  $('again').disabled = !ready || state.results.length === 0;
  $('undo').disabled = !ready || state.ops.length === 0;
  $('clear').disabled = !ready || state.ops.length === 0;
}

$('brush').oninput = () => { $('brushValue').textContent = $('brush').value; };
$('eraser').onclick = () => {
  const on = $('eraser').getAttribute('aria-pressed') !== 'true';
  $('eraser').setAttribute('aria-pressed', String(on));
};
$('undo').onclick = () => { state.ops.pop(); replay(); showPhoto(); updateButtons(); };
$('clear').onclick = () => {
  state.ops.push({clear: true});
  replay();
  showPhoto();
  updateButtons();
};
$('file').onchange = (event) => openFile(event.target.files[0]);

const viewport = $('viewport');
viewport.addEventListener('dragover', (event) => {
  event.preventDefault();
  viewport.classList.add('dragover');
});
viewport.addEventListener('dragleave', () => viewport.classList.remove('dragover'));
viewport.addEventListener('drop', (event) => {
  event.preventDefault();
  viewport.classList.remove('dragover');
  openFile(event.dataTransfer.files[0]);
});

document.addEventListener('keydown', (event) => {
  if (event.target.tagName === 'INPUT') return;
  if (event.key === 'c' && !event.repeat) compare(true);
  else if (event.key === '+' || event.key === '=') setZoom(state.zoom * 1.25);
  else if (event.key === '-') setZoom(state.zoom / 1.25);
  else if (event.key === '0') zoomToFit();
  else if ((event.ctrlKey || event.metaKey) && event.key === 'z') $('undo').click();
});
document.addEventListener('keyup', (event) => {
  if (event.key === 'c') compare(false);
});
