// aekit explorer: the page over /api/*. Plain JavaScript, no build step, no dependencies.
//
// The pad is a plane in code space: z = mean + u * c0 + v * c1 (/api/scatter's projection).
// For a 2-D code that is the code itself; for longer codes it is the plane of the first two
// principal components of the test codes. At most one /api/decode request is in flight; moves
// made meanwhile collapse into the latest, so decoding keeps up with the pointer.
//
// A melody run (info.modality === "melody") has the same pad; a code decodes to a melody
// (/api/melody/decode: piano roll, MIDI) and its sound is fetched apart (/api/melody/audio,
// slower: fluidsynth), with its own one-in-flight rule. Its sliders move the code along the
// principal directions of the test codes (/api/directions) rather than one number at a time.
"use strict";

const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const $ = (id) => document.getElementById(id);

const state = {
  info: null, scatter: null, z: null, bounds: null, path: null, marks: [],
  inflight: false, pending: null, decodedUrl: null, pick: [], galleryStart: 0,
  directions: null, seed: 0, audio: {busy: false, next: null, url: null, tokens: null},
};

const isMelody = () => state.info.modality === "melody";

async function api(path, options) {
  const response = await fetch(path, options);
  if (!response.ok) {
    let detail = `${response.status} ${response.statusText}`;
    try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
    throw new Error(detail);
  }
  return response;
}

function postJson(path, body) {
  return api(path, {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  });
}

function showError(id, error) {
  const el = $(id);
  el.textContent = error ? String(error.message || error) : "";
  el.hidden = !error;
}

// The class for a conditional model; undefined for the others, so JSON.stringify leaves `label`
// out: a run's schema has no label unless its model is conditional, and refuses one sent.
function label() {
  return state.info.conditional ? Number($("label").value) : undefined;
}

function size(shape) { return `${shape[2]}x${shape[1]}`; }

function shortName(dataset) {
  // "npz:/long/path/shapes.npz" -> "npz:shapes.npz": the page has no use for where it lies.
  if (!dataset) return "unrecorded data";
  const kind = dataset.includes(":") ? dataset.slice(0, dataset.indexOf(":") + 1) : "";
  return kind + dataset.slice(kind.length).split("/").filter(Boolean).pop();
}

// ---------------------------------------------------------------- start

async function start() {
  const info = await (await api("/api/info")).json();
  state.info = info;
  const code = info.latent ? `, code ${info.code_shape.join("x")} (${info.code_dim} numbers)` : "";
  if (isMelody()) {
    const bars = info.melody.steps / info.melody.steps_per_bar;
    $("summary").textContent = `${info.model} from run ${info.run}, trained for ${info.task} ` +
      `on ${shortName(info.dataset)}: ${bars}-bar melodies of ${info.melody.steps} ` +
      `16th-note steps${code}.`;
  } else {
    const kind = info.image_shape[0] === 1 ? "grayscale" : "RGB";
    const resized = size(info.output_shape) === size(info.image_shape) ? ""
      : ` made into ${size(info.output_shape)}`;
    $("summary").textContent = `${info.model} from run ${info.run}, trained for ${info.task} ` +
      `on ${shortName(info.dataset)}: ${kind} ${size(info.image_shape)} images${resized}${code}.`;
  }
  if (info.notes.length) { $("notes").textContent = info.notes.join(" "); $("notes").hidden = false; }
  if (info.conditional) {
    const select = $("label");
    for (let k = 0; k < info.num_classes; k++) {
      const option = document.createElement("option");
      option.value = k;
      option.textContent = info.classes && info.classes[k] !== undefined
        ? `${k}: ${info.classes[k]}` : String(k);
      select.append(option);
    }
    $("label-wrap").hidden = false;
    select.addEventListener("change", () => { decode(state.z); interpolate(); });
  }
  if (isMelody()) $("apply-section").hidden = true;
  else setupApply(info);
  if (!info.latent) return;
  state.scatter = await (await api("/api/scatter")).json();
  if (isMelody()) await setupMelody();
  setupPad();
  if (info.test_images >= 2 && !isMelody()) setupInterpolation();
}

// ---------------------------------------------------------------- pad

function setupPad() {
  const {info, scatter} = state;
  const proj = scatter.projection;
  $("pad-section").hidden = false;
  const pts = scatter.points;
  let xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  if (!pts.length) { xs = [-3, 3]; ys = [-3, 3]; }
  // One scale for both axes, so distances on the pad are distances in the plane.
  const span = 1.16 * Math.max(Math.max(...xs) - Math.min(...xs),
                               Math.max(...ys) - Math.min(...ys), 1e-6);
  const mid = (vs) => (Math.max(...vs) + Math.min(...vs)) / 2;
  const [x0, x1] = [mid(xs) - span / 2, mid(xs) + span / 2];
  const [y0, y1] = [mid(ys) - span / 2, mid(ys) + span / 2];
  state.bounds = {x0, x1, y0, y1};
  const noun = isMelody() ? "test windows" : "test images";
  const where = pts.length ? `the codes of ${pts.length} ${noun}` +
    (isMelody() ? "" : ", coloured by class") : "no test codes (see the note above)";
  if (info.code_dim <= 2) {
    $("pad-help").textContent = `Each dot is the 2-D code of a test image (${where}). Move the ` +
      "pointer over the pad: the code under it is decoded live into the image on the right. " +
      "The model never saw a label while training; the colours only show where it put each class.";
  } else {
    const share = proj.explained == null ? "" : ` (${Math.round(100 * proj.explained)}% of the ` +
      "code variance)";
    const sliders = isMelody()
      ? "the sliders move the code along the principal directions of the test codes, most " +
        "variance first (PC 1 and PC 2 are the pad's axes). Each code is decoded into a melody, " +
        "drawn as a piano roll (bar lines grey) and played below it."
      : "the sliders set each number on its own.";
    $("pad-help").textContent = `This model's code has ${info.code_dim} numbers. The pad is the ` +
      `plane of the first two principal components of the test codes through their mean${share}; ` +
      `the dots are ${where}. Moving the pointer decodes the code at that point of the plane; ` +
      sliders;
    if (!isMelody()) setupSliders();
  }
  const range = (lo, hi) => `${lo.toFixed(2)} to ${hi.toFixed(2)}`;
  $("pad-axes").textContent = `horizontal: ${proj.axes[0]}, ${range(x0, x1)}; ` +
    `vertical: ${proj.axes[1]}, ${range(y0, y1)}`;
  legend();
  const canvas = $("pad");
  canvas.addEventListener("pointermove", (event) => moveTo(event));
  canvas.addEventListener("pointerdown", (event) => moveTo(event));
  $("random").addEventListener("click", randomCode);
  state.z = proj.mean.slice();
  decode(state.z);
}

function legend() {
  const {labels, classes} = state.scatter;
  const box = $("legend");
  box.replaceChildren();
  if (!labels) return;
  const present = [...new Set(labels)].sort((a, b) => a - b);
  for (const k of present) {
    const item = document.createElement("span");
    item.style.setProperty("--dot", COLOURS[k % COLOURS.length]);
    item.textContent = classes && classes[k] !== undefined ? classes[k] : String(k);
    box.append(item);
  }
}

function toCanvas(u, v) {
  const {x0, x1, y0, y1} = state.bounds;
  const canvas = $("pad");
  return [(u - x0) / (x1 - x0) * canvas.width, (1 - (v - y0) / (y1 - y0)) * canvas.height];
}

function fromEvent(event) {
  const canvas = $("pad");
  const rect = canvas.getBoundingClientRect();
  const {x0, x1, y0, y1} = state.bounds;
  const fx = (event.clientX - rect.left) / rect.width;
  const fy = (event.clientY - rect.top) / rect.height;
  return [x0 + fx * (x1 - x0), y1 - fy * (y1 - y0)];
}

function codeAt(u, v) {
  const {mean, components} = state.scatter.projection;
  return mean.map((m, i) => m + u * components[0][i] + v * components[1][i]);
}

function pointOf(z) {
  const {mean, components} = state.scatter.projection;
  return components.map((c) => c.reduce((s, ci, i) => s + ci * (z[i] - mean[i]), 0));
}

function moveTo(event) {
  const [u, v] = fromEvent(event);
  state.z = codeAt(u, v);
  decode(state.z);
}

function draw() {
  const canvas = $("pad");
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fbfcfe";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = "#e3e7ee";
  ctx.lineWidth = 1;
  const [ox, oy] = toCanvas(0, 0);
  ctx.beginPath();
  ctx.moveTo(ox, 0); ctx.lineTo(ox, canvas.height);
  ctx.moveTo(0, oy); ctx.lineTo(canvas.width, oy);
  ctx.stroke();
  const {points, labels} = state.scatter;
  ctx.globalAlpha = 0.65;
  for (let i = 0; i < points.length; i++) {
    const [x, y] = toCanvas(points[i][0], points[i][1]);
    ctx.fillStyle = labels ? COLOURS[labels[i] % COLOURS.length] : "#6b7a90";
    ctx.fillRect(x - 2, y - 2, 4, 4);
  }
  ctx.globalAlpha = 1;
  if (state.path) {
    ctx.strokeStyle = "#111";
    ctx.lineWidth = 2;
    ctx.beginPath();
    state.path.forEach(([u, v], i) => {
      const [x, y] = toCanvas(u, v);
      if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y);
    });
    ctx.stroke();
    for (const [u, v] of state.path) {
      const [x, y] = toCanvas(u, v);
      ctx.fillStyle = "#111";
      ctx.beginPath(); ctx.arc(x, y, 3.5, 0, 2 * Math.PI); ctx.fill();
    }
  }
  for (const mark of state.marks) {
    const [x, y] = toCanvas(mark.point[0], mark.point[1]);
    ctx.fillStyle = "#111";
    ctx.font = "bold 13px system-ui, sans-serif";
    ctx.fillText(`\u2605 ${mark.text}`, x - 6, y + 5);
  }
  if (state.z) {
    const [u, v] = pointOf(state.z);
    const [x, y] = toCanvas(u, v);
    ctx.strokeStyle = "#d9480f";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(x, y, 7, 0, 2 * Math.PI);
    ctx.moveTo(x - 12, y); ctx.lineTo(x + 12, y);
    ctx.moveTo(x, y - 12); ctx.lineTo(x, y + 12);
    ctx.stroke();
  }
}

async function decode(z) {
  if (!z) return;
  draw();
  showSliders(z);
  $("zline").textContent = `z = [${z.slice(0, 8).map((v) => v.toFixed(2)).join(", ")}` +
    `${z.length > 8 ? ", \u2026" : ""}]`;
  if (state.inflight) { state.pending = z; return; }
  state.inflight = true;
  try {
    if (isMelody()) {
      await showMelody(z);
    } else {
      const response = await postJson("/api/decode", {z, label: label()});
      const url = URL.createObjectURL(await response.blob());
      const img = $("decoded");
      img.src = url;
      if (state.decodedUrl) URL.revokeObjectURL(state.decodedUrl);
      state.decodedUrl = url;
    }
    showError("pad-error", null);
  } catch (error) {
    showError("pad-error", error);
  } finally {
    state.inflight = false;
    const next = state.pending;
    state.pending = null;
    if (next && next !== z) decode(next);
  }
}

async function randomCode() {
  const query = state.info.conditional ? `?label=${label()}` : "";
  try {
    const code = await (await api(`/api/random${query}`)).json();
    state.seed = Math.floor(Math.random() * 2 ** 31);  // melody draws at temperature > 0
    $("random-source").textContent = `random code from the ${code.source}`;
    state.z = code.z;
    decode(state.z);
  } catch (error) {
    showError("pad-error", error);
  }
}

// ---------------------------------------------------------------- sliders (codes longer than 2)

function setupSliders() {
  const {code_mean: mean, code_std: std} = state.scatter;
  const box = $("sliders");
  box.hidden = false;
  for (let i = 0; i < state.info.code_dim; i++) {
    const spread = 4 * (std[i] || 1);
    const name = document.createElement("span");
    name.textContent = `z[${i}]`;
    const slider = document.createElement("input");
    Object.assign(slider, {type: "range", min: mean[i] - spread, max: mean[i] + spread,
                           step: spread / 100, id: `z${i}`});
    const value = document.createElement("span");
    value.className = "mono";
    slider.addEventListener("input", () => {
      state.z = state.z.slice();
      state.z[i] = Number(slider.value);
      decode(state.z);
    });
    box.append(name, slider, value);
  }
}

function showSliders(z) {
  if ($("sliders").hidden) return;
  if (state.directions) {
    state.directions.components.forEach((_, k) => {
      const slider = $(`d${k}`);
      const a = along(z, k);
      slider.value = a;
      slider.nextSibling.textContent = a.toFixed(2);
    });
    return;
  }
  z.forEach((v, i) => {
    const slider = $(`z${i}`);
    slider.value = v;
    slider.nextSibling.textContent = v.toFixed(2);
  });
}

// ---------------------------------------------------------------- melodies

const NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];
const noteName = (pitch) => `${NAMES[pitch % 12]}${Math.floor(pitch / 12) - 1}`;

function along(z, k) {
  // The code's coordinate along principal direction k, measured from the mean test code.
  const {mean, components} = state.directions;
  return components[k].reduce((s, c, i) => s + c * (z[i] - mean[i]), 0);
}

async function setupMelody() {
  const info = state.info;
  $("decoded").hidden = true;
  $("melody-out").hidden = false;
  $("random").textContent = "sample from the prior";
  if (!info.melody.audio) {
    $("audio").hidden = true;
    $("audio-note").textContent = `${info.melody.audio_note}. The .mid file plays in any ` +
      "MIDI player.";
    $("audio-note").hidden = false;
  }
  $("temperature").max = info.melody.max_temperature;
  $("temperature").addEventListener("change", () => decode(state.z));
  if (info.test_images > 0) {
    $("window").max = info.test_images - 1;
    $("encode-window").addEventListener("click", encodeWindow);
  } else {
    $("encode-window").parentElement.hidden = true;
  }
  const k = Math.min(8, info.code_dim);
  state.directions = await (await api(`/api/directions?k=${k}`)).json();
  const {span, axes, explained} = state.directions;
  const box = $("sliders");
  box.hidden = false;
  span.forEach((range, k) => {
    const name = document.createElement("span");
    name.textContent = axes[k] + (explained ? ` (${Math.round(100 * explained[k])}%)` : "");
    const slider = document.createElement("input");
    Object.assign(slider, {type: "range", min: -range, max: range, step: range / 100,
                           id: `d${k}`});
    const value = document.createElement("span");
    value.className = "mono";
    slider.addEventListener("input", () => {
      const delta = Number(slider.value) - along(state.z, k);
      const c = state.directions.components[k];
      state.z = state.z.map((v, i) => v + delta * c[i]);
      decode(state.z);
    });
    box.append(name, slider, value);
  });
}

function temperature() {
  const t = Number($("temperature").value);
  return Number.isFinite(t) && t > 0 ? Math.min(t, state.info.melody.max_temperature) : 0;
}

async function showMelody(z) {
  const body = {z, temperature: temperature(), seed: state.seed};
  const melody = await (await postJson("/api/melody/decode", body)).json();
  $("roll").src = melody.roll;
  $("midi").href = melody.midi;
  $("tokens").textContent = melody.notes.length
    ? `${melody.notes.length} notes: ${melody.notes.map((n) => noteName(n.pitch)).join(" ")}`
    : "no notes: a rest";
  loadAudio(melody.tokens);
}

async function loadAudio(tokens) {
  const audio = state.audio;
  if (!state.info.melody.audio) return;
  if (audio.busy) { audio.next = tokens; return; }
  const key = tokens.join(" ");
  if (key === audio.tokens) return;  // the same melody: its sound is there already
  audio.busy = true;
  try {
    const response = await postJson("/api/melody/audio", {tokens});
    const url = URL.createObjectURL(await response.blob());
    if (audio.url) URL.revokeObjectURL(audio.url);
    audio.url = url;
    audio.tokens = key;
    $("audio").src = url;
  } catch (error) {
    showError("pad-error", error);
  } finally {
    audio.busy = false;
    const next = audio.next;
    audio.next = null;
    if (next) loadAudio(next);
  }
}

async function encodeWindow() {
  const i = Number($("window").value);
  const form = new FormData();
  form.append("index", i);
  try {
    const code = await (await api("/api/encode", {method: "POST", body: form})).json();
    const original = await (await api(`/api/melody/test-window/${i}`)).json();
    $("original").src = original.roll;
    $("original").alt = `test window ${i}, as it is in the data`;
    $("original").hidden = false;
    $("random-source").textContent = `the code of test window ${i}: the upper roll is its ` +
      "decoding, the lower one the window itself";
    state.z = code.z;
    decode(state.z);
  } catch (error) {
    showError("pad-error", error);
  }
}

// ---------------------------------------------------------------- interpolation

function setupInterpolation() {
  $("interp-section").hidden = false;
  gallery();
  $("more").addEventListener("click", () => {
    state.galleryStart = (state.galleryStart + 16) % state.info.test_images;
    gallery();
  });
  $("steps").addEventListener("input", () => {
    $("steps-value").textContent = $("steps").value;
    interpolate();
  });
  $("spherical").addEventListener("change", interpolate);
}

function gallery() {
  const box = $("gallery");
  box.replaceChildren();
  const {labels, classes} = state.scatter;
  const n = Math.min(16, state.info.test_images);
  for (let k = 0; k < n; k++) {
    const i = (state.galleryStart + k) % state.info.test_images;
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.index = i;
    const name = labels ? (classes ? classes[labels[i]] : labels[i]) : "";
    button.title = `test image ${i}${name !== "" ? ` (${name})` : ""}`;
    const img = document.createElement("img");
    img.src = `/api/test-image/${i}`;
    img.alt = button.title;
    button.append(img);
    button.addEventListener("click", () => pick(i));
    box.append(button);
  }
  markPicks();
}

function pick(i) {
  state.pick = state.pick.length >= 2 ? [i] : [...state.pick, i];
  markPicks();
  if (state.pick.length === 2) interpolate();
}

function markPicks() {
  for (const button of $("gallery").children) {
    const i = Number(button.dataset.index);
    button.classList.toggle("a", state.pick[0] === i);
    button.classList.toggle("b", state.pick[1] === i);
  }
  const [a, b] = state.pick;
  $("interp-status").textContent = `A: ${a === undefined ? "none" : `test image ${a}`}, ` +
    `B: ${b === undefined ? "none" : `test image ${b}`}`;
}

async function interpolate() {
  if (state.pick.length !== 2) return;
  const [a, b] = state.pick;
  const body = {a, b, steps: Number($("steps").value), spherical: $("spherical").checked};
  if (state.info.conditional) body.label = label();
  try {
    const result = await (await postJson("/api/interpolate", body)).json();
    const strip = $("strip");
    strip.replaceChildren();
    const figure = (src, caption, end) => {
      const fig = document.createElement("figure");
      if (end) fig.className = "end";
      const img = document.createElement("img");
      img.className = "pixels";
      img.src = src;
      img.alt = caption;
      const cap = document.createElement("figcaption");
      cap.textContent = caption;
      fig.append(img, cap);
      strip.append(fig);
    };
    figure(`/api/test-image/${a}`, "A", true);
    result.images.forEach((src, k) => figure(src, `${k + 1}`, false));
    figure(`/api/test-image/${b}`, "B", true);
    state.path = result.points;
    draw();
    showError("interp-error", null);
  } catch (error) {
    showError("interp-error", error);
  }
}

// ---------------------------------------------------------------- uploads

const ACTION_HELP = {
  "reconstruct": "Encode your image and decode its code: how much survives the bottleneck?",
  "denoise": "Your image is taken to be noisy already; the model cleans it.",
  "add-noise-denoise": "The noise the model was trained on is added to your image, then the " +
    "model cleans the noisy copy.",
  "upscale": "Your image is the small input; the model enlarges it.",
  "downscale-upscale": "Your image is shrunk the way the model's training inputs were, then " +
    "enlarged by the model, beside bicubic interpolation.",
};

function setupApply(info) {
  const select = $("action");
  for (const action of info.actions) {
    const option = document.createElement("option");
    option.value = action; option.textContent = action;
    select.append(option);
  }
  const helpText = () => {
    const action = select.value;
    const shape = action === "downscale-upscale" ? info.output_shape : info.image_shape;
    $("resize-label").textContent = `resize to ${size(shape)}` +
      (shape[0] === 1 ? " and convert to gray" : " RGB");
    $("apply-help").textContent = `${ACTION_HELP[action]} Upload a PNG or JPEG of at most ` +
      `${(info.limits.max_upload_bytes / 2 ** 20).toFixed(0)} MB; the model takes ` +
      `${size(shape)} images, so without "resize" other sizes are refused.`;
  };
  select.addEventListener("change", helpText);
  helpText();
  $("apply-form").addEventListener("submit", (event) => { event.preventDefault(); upload(); });
}

async function upload() {
  const file = $("file").files[0];
  const info = state.info;
  if (!file) { showError("apply-error", "choose an image file first"); return; }
  if (file.size > info.limits.max_upload_bytes) {
    showError("apply-error", `${file.name} is ${file.size.toLocaleString()} bytes, over the ` +
      `limit of ${info.limits.max_upload_bytes.toLocaleString()}; choose a smaller image`);
    return;
  }
  const form = new FormData();
  form.append("file", file);
  form.append("action", $("action").value);
  form.append("resize", $("resize").checked);
  if (info.conditional) form.append("label", label());
  try {
    const result = await (await api("/api/apply", {method: "POST", body: form})).json();
    const out = $("apply-out");
    out.replaceChildren();
    for (const image of result.images) {
      const fig = document.createElement("figure");
      const img = document.createElement("img");
      img.className = "pixels";
      img.src = image.src;
      img.alt = image.title;
      const cap = document.createElement("figcaption");
      cap.textContent = `${image.title} (${image.width}x${image.height})`;
      fig.append(img, cap);
      out.append(fig);
    }
    showError("apply-error", null);
    if (info.latent && state.scatter) markUpload(form);
  } catch (error) {
    showError("apply-error", error);
  }
}

async function markUpload(applied) {
  // Where the upload's code lies on the pad: a star labelled with the file name.
  const form = new FormData();
  form.append("file", applied.get("file"));
  form.append("resize", applied.get("resize"));
  if (applied.has("label")) form.append("label", applied.get("label"));
  try {
    const code = await (await api("/api/encode", {method: "POST", body: form})).json();
    state.marks = [{point: code.point, text: applied.get("file").name}];
    draw();
  } catch (_) { /* the upload panel already shows what went wrong */ }
}

start().catch((error) => {
  $("summary").textContent = `could not load the run: ${error.message}`;
});
