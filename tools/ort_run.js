#!/usr/bin/env node
// ort_run.js — the ONNX Runtime reference runner for cleave (plain Node, CommonJS).
//
//   node tools/ort_run.js run   MODEL --input [NAME=]FILE.npy ... --outdir DIR [--threads N] [--opt LEVEL]
//   node tools/ort_run.js bench MODEL --input [NAME=]FILE.npy ... [--threads N] [--warmup W] [--repeat R] [--opt LEVEL]
//   node tools/ort_run.js info  MODEL
//
// onnxruntime-node is loaded from $CLEAVE_NPM_DIR (a node_modules folder), default
// <repo>/.deps/npm/node_modules where <repo> is the parent of this tools/ folder.
// Exit status: 0 ok, 2 usage or input error, 1 runtime error.
'use strict';

const fs = require('fs');
const path = require('path');
const { performance } = require('perf_hooks');

class UsageError extends Error {}

function die(msg, code) {
  process.stderr.write(`ort_run: error: ${msg}\n`);
  process.exit(code);
}

// ---------------------------------------------------------------------------
// .npy reading / writing (format v1.0, v2.0, v3.0; little-endian; C order)
// ---------------------------------------------------------------------------

// numpy descr (without byte-order char) -> [ORT tensor type, TypedArray ctor, itemsize]
const NPY_TYPES = {
  f4: ['float32', Float32Array, 4],
  f8: ['float64', Float64Array, 8],
  f2: ['float16', Uint16Array, 2],
  i8: ['int64', BigInt64Array, 8],
  i4: ['int32', Int32Array, 4],
  i2: ['int16', Int16Array, 2],
  i1: ['int8', Int8Array, 1],
  u8: ['uint64', BigUint64Array, 8],
  u4: ['uint32', Uint32Array, 4],
  u2: ['uint16', Uint16Array, 2],
  u1: ['uint8', Uint8Array, 1],
  b1: ['bool', Uint8Array, 1],
};
const ORT_TO_DESCR = {};
for (const [k, v] of Object.entries(NPY_TYPES)) ORT_TO_DESCR[v[0]] = (v[2] === 1 ? '|' : '<') + k;

const NPY_MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

function parseNpyHeader(header, file) {
  const bad = (what) => { throw new UsageError(`${file}: bad .npy header (${what}): ${header.trim()}`); };
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr) bad("no 'descr'");
  if (!fortran) bad("no 'fortran_order'");
  if (!shape) bad("no 'shape'");
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((s) => {
    if (!/^\d+$/.test(s)) bad(`shape entry '${s}'`);
    return Number(s);
  });
  return { descr: descr[1], fortran: fortran[1] === 'True', dims };
}

function readNpy(file) {
  let buf;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${e.message}`);
  }
  if (buf.length < 10 || !buf.subarray(0, 6).equals(NPY_MAGIC)) {
    throw new UsageError(`${file}: not a .npy file (bad magic)`);
  }
  const major = buf[6];
  let hlen, hstart;
  if (major === 1) {
    hlen = buf.readUInt16LE(8); hstart = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) throw new UsageError(`${file}: truncated .npy header`);
    hlen = buf.readUInt32LE(8); hstart = 12;
  } else {
    throw new UsageError(`${file}: unsupported .npy format version ${major}.${buf[7]}`);
  }
  if (hstart + hlen > buf.length) throw new UsageError(`${file}: truncated .npy header`);
  const header = buf.subarray(hstart, hstart + hlen).toString(major === 3 ? 'utf8' : 'latin1');
  const h = parseNpyHeader(header, file);
  if (h.fortran) throw new UsageError(`${file}: Fortran-order arrays are not supported (save with np.ascontiguousarray)`);
  const order = h.descr[0];
  const code = h.descr.slice(1);
  if (!'<|='.includes(order) || !(code in NPY_TYPES)) {
    if (order === '>') throw new UsageError(`${file}: big-endian dtype '${h.descr}' is not supported`);
    throw new UsageError(`${file}: unsupported dtype '${h.descr}' (supported: ${Object.keys(NPY_TYPES).join(', ')})`);
  }
  const [type, Ctor, itemsize] = NPY_TYPES[code];
  const count = h.dims.reduce((a, b) => a * b, 1);
  const dataStart = hstart + hlen;
  const nbytes = count * itemsize;
  if (buf.length - dataStart < nbytes) {
    throw new UsageError(`${file}: data too short: need ${nbytes} bytes for shape [${h.dims}] ${h.descr}, have ${buf.length - dataStart}`);
  }
  if (buf.length - dataStart > nbytes) {
    throw new UsageError(`${file}: ${buf.length - dataStart - nbytes} trailing bytes after the array data`);
  }
  // Copy into a fresh, aligned ArrayBuffer.
  const ab = new ArrayBuffer(nbytes);
  new Uint8Array(ab).set(buf.subarray(dataStart, dataStart + nbytes));
  let data = new Ctor(ab);
  if (type === 'bool') {
    for (let i = 0; i < data.length; i++) if (data[i] > 1) data[i] = 1;
  }
  return { type, dims: h.dims, data, descr: h.descr };
}

function writeNpy(file, type, dims, data) {
  const descr = ORT_TO_DESCR[type];
  if (!descr) throw new Error(`cannot write tensor of type '${type}' to .npy`);
  const shapeStr = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  // Pad (with spaces, then '\n') so that the data starts on a 64-byte boundary.
  // Format 1.0 unless the header does not fit its 16-bit length field.
  const padded = (pre) => Math.ceil((pre + dict.length + 1) / 64) * 64 - pre;
  const major = padded(10) > 65535 ? 2 : 1;
  const pre = major === 1 ? 10 : 12;
  dict = dict + ' '.repeat(padded(pre) - dict.length - 1) + '\n';
  const head = Buffer.alloc(pre);
  NPY_MAGIC.copy(head, 0);
  head[6] = major; head[7] = 0;
  if (major === 1) head.writeUInt16LE(dict.length, 8); else head.writeUInt32LE(dict.length, 8);
  let bytes;
  if (type === 'bool') {
    bytes = Buffer.alloc(data.length);
    for (let i = 0; i < data.length; i++) bytes[i] = data[i] ? 1 : 0;
  } else {
    bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(dict, 'latin1'), bytes]));
}

// ---------------------------------------------------------------------------
// onnxruntime-node
// ---------------------------------------------------------------------------

function loadOrt() {
  const dir = process.env.CLEAVE_NPM_DIR || path.join(__dirname, '..', '.deps', 'npm', 'node_modules');
  const pkg = path.join(dir, 'onnxruntime-node');
  if (!fs.existsSync(path.join(pkg, 'package.json'))) {
    throw new UsageError(`onnxruntime-node not found in ${dir} (set CLEAVE_NPM_DIR to a node_modules folder, or run: ` +
      `mkdir -p .deps/npm && cd .deps/npm && npm install --ignore-scripts onnxruntime-node@1.30.0)`);
  }
  return require(pkg);
}

async function createSession(ort, model, opts) {
  if (!fs.existsSync(model)) throw new UsageError(`model not found: ${model}`);
  const so = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: opts.opt,
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  };
  try {
    return await ort.InferenceSession.create(model, so);
  } catch (e) {
    throw new Error(`${model}: onnxruntime could not load the model: ${e.message}`);
  }
}

function buildFeeds(ort, session, inputs) {
  const names = session.inputNames;
  const feeds = {};
  let positional = 0;
  for (const spec of inputs) {
    let name, file;
    const eq = spec.indexOf('=');
    if (eq > 0 && names.includes(spec.slice(0, eq))) {
      name = spec.slice(0, eq); file = spec.slice(eq + 1);
    } else if (eq > 0 && !fs.existsSync(spec)) {
      throw new UsageError(`--input ${spec}: the model has no input named '${spec.slice(0, eq)}' ` +
        `(inputs: ${names.join(', ')})`);
    } else {
      if (positional >= names.length) {
        throw new UsageError(`too many --input files: the model has ${names.length} input(s): ${names.join(', ')}`);
      }
      name = names[positional++]; file = spec;
    }
    if (name in feeds) throw new UsageError(`input '${name}' given twice`);
    const a = readNpy(file);
    feeds[name] = new ort.Tensor(a.type, a.data, a.dims);
  }
  const missing = names.filter((n) => !(n in feeds));
  if (missing.length) throw new UsageError(`missing --input for model input(s): ${missing.join(', ')}`);
  return feeds;
}

function sanitise(name) {
  const s = name.replace(/[^A-Za-z0-9._-]/g, '_');
  return s.length && s !== '.' && s !== '..' ? s : `_${s}`;
}

// ---------------------------------------------------------------------------
// command line
// ---------------------------------------------------------------------------

const USAGE = `usage:
  node tools/ort_run.js run   MODEL --input [NAME=]FILE.npy ... --outdir DIR [--threads N] [--opt LEVEL]
  node tools/ort_run.js bench MODEL --input [NAME=]FILE.npy ... [--threads N] [--warmup W] [--repeat R] [--opt LEVEL]
  node tools/ort_run.js info  MODEL
LEVEL: disabled | basic | extended | all (default all). Defaults: --threads 1 --warmup 5 --repeat 20.
onnxruntime-node is loaded from $CLEAVE_NPM_DIR (default <repo>/.deps/npm/node_modules).`;

function parseArgs(argv) {
  if (argv.length === 0 || argv[0] === '-h' || argv[0] === '--help') {
    process.stdout.write(USAGE + '\n');
    process.exit(argv.length === 0 ? 2 : 0);
  }
  const o = { mode: argv[0], model: null, inputs: [], outdir: null, threads: 1, warmup: 5, repeat: 20, opt: 'all' };
  if (!['run', 'bench', 'info'].includes(o.mode)) throw new UsageError(`unknown mode '${o.mode}'\n${USAGE}`);
  const int = (flag, v, min) => {
    if (v === undefined || !/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`${flag} needs an integer >= ${min}, got '${v}'`);
    return Number(v);
  };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new UsageError(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--input' || a === '-i') o.inputs.push(val());
    else if (a === '--outdir' || a === '-o') o.outdir = val();
    else if (a === '--threads') o.threads = int(a, val(), 1);
    else if (a === '--warmup') o.warmup = int(a, val(), 0);
    else if (a === '--repeat') o.repeat = int(a, val(), 1);
    else if (a === '--opt') {
      o.opt = val();
      if (!['disabled', 'basic', 'extended', 'all'].includes(o.opt)) throw new UsageError(`bad --opt '${o.opt}'`);
    } else if (a.startsWith('-')) throw new UsageError(`unknown option '${a}'\n${USAGE}`);
    else if (o.model === null) o.model = a;
    else throw new UsageError(`unexpected argument '${a}'`);
  }
  if (!o.model) throw new UsageError('no MODEL given');
  if (o.mode !== 'info' && o.inputs.length === 0) throw new UsageError('no --input given');
  if (o.mode === 'run' && !o.outdir) throw new UsageError('run needs --outdir DIR');
  return o;
}

function percentile(sorted, p) {
  // nearest-rank on the sorted sample
  const k = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[k];
}

async function runOnce(session, feeds, model) {
  try {
    return await session.run(feeds);
  } catch (e) {
    throw new Error(`${model}: onnxruntime run failed: ${e.message}`);
  }
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const ort = loadOrt();
  const session = await createSession(ort, o.model, o);

  if (o.mode === 'info') {
    const meta = (list, md) => list.map((n, k) => {
      const m = md && md[k] ? md[k] : {};
      return { name: n, type: m.type, shape: m.shape };
    });
    process.stdout.write(JSON.stringify({
      model: o.model,
      inputs: meta(session.inputNames, session.inputMetadata),
      outputs: meta(session.outputNames, session.outputMetadata),
    }) + '\n');
    return;
  }

  const feeds = buildFeeds(ort, session, o.inputs);

  if (o.mode === 'run') {
    const res = await runOnce(session, feeds, o.model);
    fs.mkdirSync(o.outdir, { recursive: true });
    const written = [];
    const used = new Set();
    for (const name of session.outputNames) {
      const t = res[name];
      let base = sanitise(name);
      while (used.has(base)) base += '_';
      used.add(base);
      const file = path.join(o.outdir, base + '.npy');
      writeNpy(file, t.type, t.dims, t.data);
      written.push({ name, file, type: t.type, shape: Array.from(t.dims) });
    }
    process.stdout.write(JSON.stringify({ model: o.model, outputs: written }) + '\n');
    return;
  }

  // bench
  for (let i = 0; i < o.warmup; i++) await runOnce(session, feeds, o.model);
  const times = [];
  for (let i = 0; i < o.repeat; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const n = times.length;
  const median = n % 2 ? times[(n - 1) / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
  const r3 = (x) => Math.round(x * 1000) / 1000;
  process.stdout.write(JSON.stringify({
    model: o.model,
    threads: o.threads,
    median_ms: r3(median),
    min_ms: r3(times[0]),
    p90_ms: r3(percentile(times, 0.9)),
    repeat: o.repeat,
    warmup: o.warmup,
    opt: o.opt,
  }) + '\n');
}

main().catch((e) => {
  if (e instanceof UsageError) die(e.message, 2);
  die(e && e.stack && process.env.ORT_RUN_DEBUG ? e.stack : (e && e.message) || String(e), 1);
});
