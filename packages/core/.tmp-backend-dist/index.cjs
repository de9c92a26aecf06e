'use strict';

var tf = require('@tensorflow/tfjs');

var _documentCurrentScript = typeof document !== 'undefined' ? document.currentScript : null;
function _interopNamespace(e) {
  if (e && e.__esModule) return e;
  var n = Object.create(null);
  if (e) {
    Object.keys(e).forEach(function (k) {
      if (k !== 'default') {
        var d = Object.getOwnPropertyDescriptor(e, k);
        Object.defineProperty(n, k, d.get ? d : {
          enumerable: true,
          get: function () { return e[k]; }
        });
      }
    });
  }
  n.default = e;
  return Object.freeze(n);
}

var tf__namespace = /*#__PURE__*/_interopNamespace(tf);

// src/backend/backend-types.ts
var BACKEND_NAMES = ["tensorflow", "wasm", "cpu"];
var BACKEND_PREFERENCES = ["auto", "tensorflow", "tfjs-node-gpu", "tfjs-node", "wasm", "cpu"];

// src/errors/peft-error.ts
var marker = /* @__PURE__ */ Symbol.for("peftjs.error");
var PeftError = class _PeftError extends Error {
  [marker] = true;
  code;
  field;
  value;
  allowed;
  constructor(code, message, options = {}) {
    super(message, options.cause === void 0 ? void 0 : { cause: options.cause });
    this.name = "PeftError";
    this.code = code;
    this.field = options.field;
    this.value = options.value;
    this.allowed = options.allowed;
  }
  static isInstance(error) {
    return typeof error === "object" && error !== null && error[marker] === true;
  }
  static hasCode(error, code) {
    return _PeftError.isInstance(error) && error.code === code;
  }
};
function describeValue(value) {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value == null) return String(value);
  try {
    const text = JSON.stringify(value);
    return text.length > 120 ? `${text.slice(0, 117)}...` : text;
  } catch {
    return Object.prototype.toString.call(value);
  }
}
function describeAllowed(allowed) {
  return typeof allowed === "string" ? allowed : allowed.join(", ");
}
function invalidArgument(field, value, allowed) {
  throw new PeftError(
    "invalid-argument",
    `Invalid ${field}: got ${describeValue(value)}; allowed: ${describeAllowed(allowed)}.`,
    { field, value, allowed }
  );
}

// src/backend/native-binding.ts
function findNativeBinding(packageDir, fs, join) {
  const lib = join(packageDir, "lib");
  if (!fs.existsSync(lib)) return void 0;
  const napiDirs = fs.readdirSync(lib).filter((name) => /^napi-v\d+$/.test(name)).sort((a, b) => Number(b.slice(6)) - Number(a.slice(6)));
  for (const dir of napiDirs) {
    const binding = join(lib, dir, "tfjs_binding.node");
    if (fs.existsSync(binding)) return binding;
  }
  return void 0;
}
function resolvePackageDir(packageName, requires, dirname) {
  for (const require2 of requires) {
    try {
      return { dir: dirname(require2.resolve(`${packageName}/package.json`)), require: require2 };
    } catch {
    }
  }
  return void 0;
}

// src/backend/node-require.ts
function isNode() {
  return typeof process !== "undefined" && typeof process.versions === "object" && typeof process.versions.node === "string";
}
async function nodeRequires() {
  if (!isNode()) return [];
  const { createRequire: makeRequire } = await import('module');
  const { join } = await import('path');
  const here = typeof __filename === "string" ? __filename : (typeof document === 'undefined' ? require('u' + 'rl').pathToFileURL(__filename).href : (_documentCurrentScript && _documentCurrentScript.tagName.toUpperCase() === 'SCRIPT' && _documentCurrentScript.src || new URL('index.cjs', document.baseURI).href));
  return [makeRequire(here), makeRequire(join(process.cwd(), "package.json"))];
}

// src/backend/backend-candidates.ts
function loadedNativePackage() {
  const key = /* @__PURE__ */ Symbol.for("peftjs.backend.nativePackage");
  const store = globalThis;
  store[key] ??= {};
  return store[key];
}
function errorMessage(error) {
  return error instanceof Error ? error.message : String(error);
}
function nativeCandidate(id, gpu) {
  const packageName = `@tensorflow/${id}`;
  const probe = async () => {
    if (tf__namespace.findBackendFactory("tensorflow") !== null) {
      const loaded = loadedNativePackage().name;
      if (loaded === packageName || loaded === void 0 && !gpu) return void 0;
      return `the 'tensorflow' backend is already registered by ${loaded ?? "another package"}`;
    }
    if (!isNode()) return "native backends need Node.js";
    const [{ existsSync, readdirSync }, { dirname, join }] = await Promise.all([import('fs'), import('path')]);
    const resolved = resolvePackageDir(packageName, await nodeRequires(), dirname);
    if (resolved === void 0) return `${packageName} is not installed`;
    if (findNativeBinding(resolved.dir, { existsSync, readdirSync }, join) === void 0) {
      return `${packageName} is installed but lib/napi-v*/tfjs_binding.node is missing (its install script downloads libtensorflow and needs internet)`;
    }
    return void 0;
  };
  return {
    id,
    backend: "tensorflow",
    packageName,
    native: true,
    gpu,
    probe,
    async prepare() {
      const reason = await probe();
      if (reason !== void 0 || tf__namespace.findBackendFactory("tensorflow") !== null) return reason;
      const { dirname } = await import('path');
      const resolved = resolvePackageDir(packageName, await nodeRequires(), dirname);
      try {
        resolved?.require(packageName);
      } catch (error) {
        return `${packageName} failed to load: ${errorMessage(error)}`;
      }
      if (tf__namespace.findBackendFactory("tensorflow") === null) return `${packageName} loaded but registered no 'tensorflow' backend`;
      loadedNativePackage().name = packageName;
      return void 0;
    }
  };
}
var WASM_PACKAGE = "@tensorflow/tfjs-backend-wasm";
var WASM_BINARY = "tfjs-backend-wasm.wasm";
async function locateWasmPackage() {
  const [{ existsSync }, { dirname, join, sep }] = await Promise.all([import('fs'), import('path')]);
  const resolved = resolvePackageDir(WASM_PACKAGE, await nodeRequires(), dirname);
  if (resolved === void 0) return `${WASM_PACKAGE} is not installed`;
  const dist = join(resolved.dir, "dist") + sep;
  if (!existsSync(join(dist, WASM_BINARY))) return `${WASM_PACKAGE} has no ${WASM_BINARY} in ${dist}`;
  return { dist, load: () => resolved.require(WASM_PACKAGE) };
}
var wasmCandidate = {
  id: "wasm",
  backend: "wasm",
  packageName: WASM_PACKAGE,
  native: false,
  gpu: false,
  async probe(options) {
    if (tf__namespace.findBackendFactory("wasm") !== null || !isNode() || options.wasmPaths !== void 0) return void 0;
    const located = await locateWasmPackage();
    return typeof located === "string" ? located : void 0;
  },
  async prepare(options) {
    if (tf__namespace.findBackendFactory("wasm") !== null) return void 0;
    if (!isNode()) {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      if (options.wasmPaths !== void 0) wasm.setWasmPaths(options.wasmPaths);
      return void 0;
    }
    const located = await locateWasmPackage();
    if (typeof located === "string") return located;
    try {
      located.load().setWasmPaths(options.wasmPaths ?? located.dist);
    } catch (error) {
      return `${WASM_PACKAGE} failed to load: ${errorMessage(error)}`;
    }
    return void 0;
  }
};
var cpuCandidate = {
  id: "cpu",
  backend: "cpu",
  packageName: "@tensorflow/tfjs-backend-cpu",
  native: false,
  gpu: false,
  probe: async () => tf__namespace.findBackendFactory("cpu") === null ? "the 'cpu' backend is not registered" : void 0,
  prepare: async () => tf__namespace.findBackendFactory("cpu") === null ? "the 'cpu' backend is not registered" : void 0
};
var BACKEND_CANDIDATES = [
  nativeCandidate("tfjs-node-gpu", true),
  nativeCandidate("tfjs-node", false),
  wasmCandidate,
  cpuCandidate
];
function candidatesFor(preference) {
  switch (preference) {
    case "auto":
      return [...BACKEND_CANDIDATES];
    case "tensorflow":
      return BACKEND_CANDIDATES.filter((candidate) => candidate.native);
    default:
      return BACKEND_CANDIDATES.filter((candidate) => candidate.id === preference);
  }
}

// src/backend/kernels/segment-sum-plan.ts
function planSegmentSum(xShape, idsShape, numSegments) {
  if (idsShape.length !== 1 || xShape.length < 1 || idsShape[0] !== xShape[0]) return void 0;
  return {
    rows: xShape[0],
    rowSize: xShape.slice(1).reduce((total, dim) => total * dim, 1),
    outShape: [numSegments, ...xShape.slice(1)]
  };
}
function scatterAddSegments(plan, x, ids, numSegments, out) {
  const { rows, rowSize } = plan;
  for (let row = 0; row < rows; row++) {
    const segment = ids[row];
    if (segment < 0 || segment >= numSegments) continue;
    const source = row * rowSize;
    const target = segment * rowSize;
    for (let i = 0; i < rowSize; i++) out[target + i] += x[source + i];
  }
}

// src/backend/kernels/cpu-unsorted-segment-sum.ts
function cpuUnsortedSegmentSumKernel(stock) {
  const kernelFunc = (args) => {
    const { inputs, backend, attrs } = args;
    const { x, segmentIds } = inputs;
    const { numSegments } = attrs;
    const plan = planSegmentSum(x.shape, segmentIds.shape, numSegments);
    if (plan === void 0 || x.dtype === "complex64" || x.dtype === "string") {
      if (stock === void 0) {
        throw new Error(`UnsortedSegmentSum: segmentIds of shape [${segmentIds.shape}] are not one per row of x's shape [${x.shape}].`);
      }
      return stock(args);
    }
    const out = new Float32Array(tf__namespace.util.sizeFromShape(plan.outShape));
    const values = backend.readSync(x.dataId);
    const ids = backend.readSync(segmentIds.dataId);
    scatterAddSegments(plan, values, ids, numSegments, out);
    return backend.makeTensorInfo(plan.outShape, "float32", out);
  };
  return { kernelName: tf__namespace.UnsortedSegmentSum, backendName: "cpu", kernelFunc };
}

// src/backend/kernels/wasm-internals.ts
function wasmTensorData(backend, info) {
  const data = backend.dataIdMap.get(info.dataId);
  if (data === void 0) throw new Error("peftjs wasm kernel: tensor data not found on the wasm backend.");
  return data;
}

// src/backend/kernels/wasm-batch-mat-mul.ts
var FLOAT_BYTES = 4;
var wasmMatMulByModule = /* @__PURE__ */ new WeakMap();
function wasmMatMul(backend) {
  let call = wasmMatMulByModule.get(backend.wasm);
  if (call === void 0) {
    call = backend.wasm.cwrap(tf__namespace.BatchMatMul, null, [
      "number",
      "array",
      "number",
      "number",
      "array",
      "number",
      "number",
      "number",
      "number"
    ]);
    wasmMatMulByModule.set(backend.wasm, call);
  }
  return call;
}
function shapeBytes(shape) {
  return new Uint8Array(new Int32Array(shape).buffer);
}
function matMul2d(backend, aOffset, rows, k, bOffset, n, outOffset) {
  const ids = [];
  const view = (offset, size) => {
    const id = backend.dataIdNextNumber++;
    backend.wasm.tfjs.registerTensor(id, size, offset);
    ids.push(id);
    return id;
  };
  try {
    const aId = view(aOffset, rows * k);
    const bId = view(bOffset, k * n);
    const outId = view(outOffset, rows * n);
    wasmMatMul(backend)(aId, shapeBytes([1, rows, k]), 3, bId, shapeBytes([1, k, n]), 3, 0, 0, outId);
  } finally {
    for (const id of ids) backend.wasm.tfjs.disposeData(id);
  }
}
function broadcastBatchIndex(outIndex, outShape, shape) {
  let remaining = outIndex;
  let index = 0;
  let stride = 1;
  for (let axis = outShape.length - 1, own = shape.length - 1; axis >= 0; axis--, own--) {
    const outDim = outShape[axis];
    const coordinate = remaining % outDim;
    remaining = Math.floor(remaining / outDim);
    if (own < 0) continue;
    const dim = shape[own];
    if (dim !== 1) index += coordinate * stride;
    stride *= dim;
  }
  return index;
}
function swapLastTwo(backend, x) {
  const rank = x.shape.length;
  const perm = [...Array.from({ length: rank - 2 }, (_, axis) => axis), rank - 1, rank - 2];
  const transpose = tf__namespace.getKernel(tf__namespace.Transpose, "wasm").kernelFunc;
  return transpose({ inputs: { x }, backend, attrs: { perm } });
}
function wasmBatchMatMulKernel() {
  const kernelFunc = (args) => {
    const { inputs, backend, attrs } = args;
    const { a, b } = inputs;
    const { transposeA, transposeB } = attrs;
    if (a.dtype !== "float32" || b.dtype !== "float32") {
      throw new Error("BatchMatMul for non non-float32 tensors not yet supported.");
    }
    const aRank = a.shape.length;
    const bRank = b.shape.length;
    const innerA = transposeA ? a.shape[aRank - 2] : a.shape[aRank - 1];
    const innerB = transposeB ? b.shape[bRank - 1] : b.shape[bRank - 2];
    const rows = transposeA ? a.shape[aRank - 1] : a.shape[aRank - 2];
    const columns = transposeB ? b.shape[bRank - 2] : b.shape[bRank - 1];
    if (innerA !== innerB) {
      throw new Error(
        `Error in matMul: inner shapes (${innerA}) and (${innerB}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`
      );
    }
    const aBatchShape = a.shape.slice(0, -2);
    const bBatchShape = b.shape.slice(0, -2);
    const outBatchShape = tf__namespace.broadcast_util.assertAndGetBroadcastShape(aBatchShape, bBatchShape);
    const temporaries = [];
    const plain = (x, transposed) => {
      if (!transposed) return x;
      const swapped = swapLastTwo(backend, x);
      temporaries.push(swapped);
      return swapped;
    };
    try {
      const aPlain = plain(a, transposeA);
      const bPlain = plain(b, transposeB);
      const out = backend.makeOutput([...outBatchShape, rows, columns], "float32");
      const outBatch = tf__namespace.util.sizeFromShape(outBatchShape);
      if (rows === 0 || columns === 0 || outBatch === 0) return out;
      if (innerA === 0) {
        backend.typedArrayFromHeap(out).fill(0);
        return out;
      }
      const aOffset = wasmTensorData(backend, aPlain).memoryOffset;
      const bOffset = wasmTensorData(backend, bPlain).memoryOffset;
      const outOffset = wasmTensorData(backend, out).memoryOffset;
      if (tf__namespace.util.sizeFromShape(bBatchShape) === 1) {
        matMul2d(backend, aOffset, outBatch * rows, innerA, bOffset, columns, outOffset);
        return out;
      }
      const aMatrixBytes = rows * innerA * FLOAT_BYTES;
      const bMatrixBytes = innerA * columns * FLOAT_BYTES;
      const outMatrixBytes = rows * columns * FLOAT_BYTES;
      for (let index = 0; index < outBatch; index++) {
        const aIndex = broadcastBatchIndex(index, outBatchShape, aBatchShape);
        const bIndex = broadcastBatchIndex(index, outBatchShape, bBatchShape);
        matMul2d(
          backend,
          aOffset + aIndex * aMatrixBytes,
          rows,
          innerA,
          bOffset + bIndex * bMatrixBytes,
          columns,
          outOffset + index * outMatrixBytes
        );
      }
      return out;
    } finally {
      for (const temporary of temporaries) backend.disposeData(temporary.dataId);
    }
  };
  return { kernelName: tf__namespace.BatchMatMul, backendName: "wasm", kernelFunc };
}

// src/backend/kernels/wasm-identity.ts
function wasmIdentityKernel() {
  const kernelFunc = (args) => {
    const { inputs, backend } = args;
    const { x } = inputs;
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  return { kernelName: tf__namespace.Identity, backendName: "wasm", kernelFunc };
}

// src/backend/kernels/wasm-one-hot.ts
function wasmOneHotKernel() {
  const kernelFunc = (args) => {
    const { inputs, backend, attrs } = args;
    const { indices } = inputs;
    const { depth, onValue, offValue, dtype } = attrs;
    const out = backend.makeOutput([...indices.shape, depth], dtype);
    const values = backend.typedArrayFromHeap(out);
    values.fill(offValue);
    const ids = backend.typedArrayFromHeap(indices);
    for (let row = 0; row < ids.length; row++) {
      const index = ids[row];
      if (index >= 0 && index < depth) values[row * depth + index] = onValue;
    }
    return out;
  };
  return { kernelName: tf__namespace.OneHot, backendName: "wasm", kernelFunc };
}

// src/backend/kernels/wasm-unsorted-segment-sum.ts
function wasmUnsortedSegmentSumKernel() {
  const kernelFunc = (args) => {
    const { inputs, backend, attrs } = args;
    const { x, segmentIds } = inputs;
    const { numSegments } = attrs;
    const plan = planSegmentSum(x.shape, segmentIds.shape, numSegments);
    if (plan === void 0) {
      throw new Error(
        `UnsortedSegmentSum on wasm: segmentIds of shape [${segmentIds.shape}] must be rank 1 with one id per row of x's shape [${x.shape}].`
      );
    }
    const out = backend.makeOutput(plan.outShape, "float32");
    const outValues = backend.typedArrayFromHeap(out);
    outValues.fill(0);
    scatterAddSegments(plan, backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(segmentIds), numSegments, outValues);
    return out;
  };
  return { kernelName: tf__namespace.UnsortedSegmentSum, backendName: "wasm", kernelFunc };
}

// src/backend/kernel-patches.ts
var KERNEL_OVERRIDES = [
  { kernelName: tf__namespace.UnsortedSegmentSum, backendName: "cpu", make: (stock) => cpuUnsortedSegmentSumKernel(stock?.kernelFunc) },
  { kernelName: tf__namespace.UnsortedSegmentSum, backendName: "wasm", make: () => wasmUnsortedSegmentSumKernel() },
  { kernelName: tf__namespace.BatchMatMul, backendName: "wasm", make: () => wasmBatchMatMulKernel() },
  { kernelName: tf__namespace.Identity, backendName: "wasm", make: () => wasmIdentityKernel() },
  { kernelName: tf__namespace.OneHot, backendName: "wasm", make: () => wasmOneHotKernel() }
];
function patchRecords() {
  const key = /* @__PURE__ */ Symbol.for("peftjs.backend.kernelPatches");
  const store = globalThis;
  let records = store[key];
  if (records === void 0) {
    records = /* @__PURE__ */ new Map();
    store[key] = records;
  }
  return records;
}
function registeredKernel(kernelName, backendName) {
  return tf__namespace.getKernel(kernelName, backendName);
}
function recordKey(override) {
  return `${override.backendName}/${override.kernelName}`;
}
function patchKernels(backendName) {
  const records = patchRecords();
  const names = [];
  for (const override of KERNEL_OVERRIDES) {
    if (override.backendName !== backendName) continue;
    const key = recordKey(override);
    const current = registeredKernel(override.kernelName, backendName);
    const record = records.get(key);
    if (record === void 0 || current !== record.patched) {
      const stock = record !== void 0 && current === void 0 ? record.stock : current;
      if (current !== void 0) tf__namespace.unregisterKernel(override.kernelName, backendName);
      const patched = override.make(stock);
      tf__namespace.registerKernel(patched);
      records.set(key, { stock, patched });
    }
    names.push(override.kernelName);
  }
  return names;
}
function restoreStockKernels(backendName) {
  const records = patchRecords();
  const names = [];
  for (const override of KERNEL_OVERRIDES) {
    if (override.backendName !== backendName) continue;
    const key = recordKey(override);
    const record = records.get(key);
    if (record === void 0) continue;
    if (registeredKernel(override.kernelName, backendName) === record.patched) {
      tf__namespace.unregisterKernel(override.kernelName, backendName);
      if (record.stock !== void 0) {
        tf__namespace.registerKernel(record.stock);
        const backend = tf__namespace.engine().registry[backendName];
        if (backend !== void 0) record.stock.setupFunc?.(backend);
      }
    }
    records.delete(key);
    names.push(override.kernelName);
  }
  return names;
}
function patchedKernels(backendName) {
  const records = patchRecords();
  return KERNEL_OVERRIDES.filter((override) => {
    const record = records.get(recordKey(override));
    return override.backendName === backendName && record !== void 0 && registeredKernel(override.kernelName, backendName) === record.patched;
  }).map((override) => override.kernelName);
}

// src/backend/init-backend.ts
var BACKEND_ENV_VAR = "PEFTJS_BACKEND";
function isPreference(value) {
  return typeof value === "string" && BACKEND_PREFERENCES.includes(value);
}
function resolvePreference(prefer) {
  if (prefer !== void 0) {
    if (!isPreference(prefer)) invalidArgument("prefer", prefer, BACKEND_PREFERENCES);
    return prefer;
  }
  const fromEnv = isNode() ? process.env[BACKEND_ENV_VAR]?.trim() : void 0;
  if (fromEnv === void 0 || fromEnv === "") return "auto";
  if (!isPreference(fromEnv)) invalidArgument(BACKEND_ENV_VAR, fromEnv, BACKEND_PREFERENCES);
  return fromEnv;
}
function lastChoice() {
  const key = /* @__PURE__ */ Symbol.for("peftjs.backend.lastChoice");
  const store = globalThis;
  store[key] ??= {};
  return store[key];
}
async function availableCandidates(options) {
  const available = [];
  for (const candidate of BACKEND_CANDIDATES) {
    if (await candidate.probe(options) === void 0) available.push(candidate.id);
  }
  return available;
}
async function activate(candidate, options) {
  const reason = await candidate.prepare(options);
  if (reason !== void 0) return reason;
  try {
    if (!await tf__namespace.setBackend(candidate.backend)) return `tf.setBackend('${candidate.backend}') failed to initialise it`;
    await tf__namespace.ready();
  } catch (error) {
    return `initialising '${candidate.backend}' threw: ${error instanceof Error ? error.message : String(error)}`;
  }
  return void 0;
}
async function initBackend(options = {}) {
  const preference = resolvePreference(options.prefer);
  if (options.kernels !== void 0 && options.kernels !== "fast" && options.kernels !== "stock") {
    invalidArgument("kernels", options.kernels, ["fast", "stock"]);
  }
  const skipped = [];
  for (const candidate of candidatesFor(preference)) {
    const reason = await activate(candidate, options);
    if (reason !== void 0) {
      skipped.push({ candidate: candidate.id, reason });
      continue;
    }
    let kernelsPatched = [];
    if (options.kernels === "stock") restoreStockKernels(candidate.backend);
    else kernelsPatched = patchKernels(candidate.backend);
    const info = {
      backend: candidate.backend,
      name: candidate.backend,
      packageName: candidate.packageName,
      native: candidate.native,
      gpu: candidate.gpu,
      kernelsPatched,
      skipped
    };
    lastChoice().info = info;
    return info;
  }
  const available = await availableCandidates(options);
  const reasons = skipped.map((entry) => `${entry.candidate}: ${entry.reason}`).join("; ");
  throw new PeftError(
    "backend-unavailable",
    `Backend '${preference}' is not available (${reasons}). Available: ${available.join(", ") || "none"}.`,
    { field: "prefer", value: preference, allowed: available }
  );
}
function currentBackend() {
  const name = tf__namespace.engine().backendName;
  if (name === null || name === void 0 || tf__namespace.engine().registry[name] === void 0) return void 0;
  if (!BACKEND_NAMES.includes(name)) return void 0;
  const backend = name;
  const last = lastChoice().info;
  if (last !== void 0 && last.backend === backend) return { ...last, kernelsPatched: patchedKernels(backend) };
  const candidate = BACKEND_CANDIDATES.find((entry) => entry.backend === backend && !entry.gpu);
  return {
    backend,
    name: backend,
    packageName: candidate?.packageName ?? "unknown",
    native: backend === "tensorflow",
    gpu: false,
    kernelsPatched: patchedKernels(backend),
    skipped: []
  };
}

exports.BACKEND_ENV_VAR = BACKEND_ENV_VAR;
exports.BACKEND_NAMES = BACKEND_NAMES;
exports.BACKEND_PREFERENCES = BACKEND_PREFERENCES;
exports.currentBackend = currentBackend;
exports.findNativeBinding = findNativeBinding;
exports.initBackend = initBackend;
exports.patchKernels = patchKernels;
exports.patchedKernels = patchedKernels;
exports.restoreStockKernels = restoreStockKernels;
//# sourceMappingURL=index.cjs.map
//# sourceMappingURL=index.cjs.map