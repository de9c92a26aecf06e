import { tf } from '../nn/tf';

/** What a backend keeps per data buffer: set/delete/has/get over data ids (tfjs' DataStorage). */
interface DataStorageLike {
  set(dataId: object, value: unknown): void;
  delete(dataId: object): boolean;
  has(dataId: object): boolean;
  get(dataId: object): unknown;
}

/** The field each backend keeps its DataStorage in: cpu `data`, wasm `dataIdMap`, node `tensorMap`, webgl `texData`. */
const STORAGE_FIELDS = ['data', 'dataIdMap', 'tensorMap', 'texData'] as const;
const INSTALLED = Symbol.for('peftjs.memoryMeter');

interface BufferRecord {
  /** The ArrayBuffer the values live in (shared by slice views on cpu), or the data id itself. */
  key: object;
  bytes: number;
}

interface MeterWindow {
  startLiveBytes: number;
  peakLiveBytes: number;
}

/** Peak, baseline and end bytes of one measured interval. */
export interface MemoryReading {
  /** Highest live bytes during the interval minus the live bytes at its start. */
  peakBytes: number;
  /** Bytes resident when the interval started (see `baselineExact`). */
  baselineBytes: number;
  /** Live bytes at the end minus the live bytes at the start (what the interval left behind). */
  endBytes: number;
  /**
   * False when the meter was installed on a backend that already held tensors: their bytes
   * then come from `tf.memory().numBytes` at install time, which counts views more than once.
   * Peak and end bytes are exact either way (they are differences).
   */
  baselineExact: boolean;
  backend: string;
}

/** A reading plus the measured function's result. */
export interface MemoryMeasurement<T> extends MemoryReading {
  result: T;
}

function isStorage(value: unknown): value is DataStorageLike {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return ['set', 'delete', 'has', 'get'].every((name) => typeof candidate[name] === 'function');
}

function stringBytes(values: unknown): number {
  if (!Array.isArray(values)) return 0;
  let total = 0;
  for (const item of values) if (ArrayBuffer.isView(item)) total += item.byteLength;
  return total;
}

/**
 * The bytes one stored value holds, and what to count it by. Typed values (cpu) are counted by
 * their ArrayBuffer, so a slice that views its parent's buffer adds nothing while the parent
 * lives and keeps the whole buffer counted after; shape/dtype entries (wasm, node, webgl) by
 * size × bytes per element.
 */
function describeBuffer(dataId: object, value: unknown): BufferRecord {
  if (typeof value !== 'object' || value === null) return { key: dataId, bytes: 0 };
  const entry = value as { values?: unknown; stringBytes?: unknown; shape?: unknown; dtype?: unknown };
  if (ArrayBuffer.isView(entry.values)) return { key: entry.values.buffer, bytes: entry.values.buffer.byteLength };
  if (entry.dtype === 'string') return { key: dataId, bytes: stringBytes(entry.values ?? entry.stringBytes) };
  if (Array.isArray(entry.shape) && typeof entry.dtype === 'string' && entry.dtype !== 'complex64') {
    return { key: dataId, bytes: tf.util.sizeFromShape(entry.shape as number[]) * tf.util.bytesPerElement(entry.dtype as tf.DataType) };
  }
  return { key: dataId, bytes: 0 };
}

/**
 * Real memory of tensor data on one backend: every data buffer counted once, however many
 * tensors (reshape views, clones, the tape's saved copies) point at it. It wraps the backend's
 * DataStorage `set`/`delete` (public fields of the stock backends), so it sees each buffer as it
 * is made and freed. Kernel scratch memory and the JS heap outside tensor data are not counted.
 *
 * Install it right after the backend is ready (`MemoryMeter.forBackend()`); buffers made before
 * are known only by estimate until they are freed.
 */
export class MemoryMeter {
  readonly backendName: string;
  private readonly records = new WeakMap<object, BufferRecord>();
  private readonly bufferRefs = new Map<object, { bytes: number; refs: number }>();
  private readonly windows = new Set<MeterWindow>();
  /** Bytes of buffers made since install and still alive, minus pre-install buffers freed since. */
  private liveSinceInstall = 0;
  private untrackedResidentBytes: number;
  readonly baselineExact: boolean;

  private constructor(backendName: string, storage: DataStorageLike) {
    this.backendName = backendName;
    this.untrackedResidentBytes = tf.memory().numBytes;
    this.baselineExact = this.untrackedResidentBytes === 0;
    const originalSet = storage.set;
    const originalDelete = storage.delete;
    storage.set = (dataId: object, value: unknown): void => {
      originalSet.call(storage, dataId, value);
      this.onSet(dataId, value);
    };
    storage.delete = (dataId: object): boolean => {
      if (storage.has(dataId)) this.onDelete(dataId, storage.get(dataId));
      return originalDelete.call(storage, dataId);
    };
  }

  /**
   * The meter of a backend (the current one by default), installed on first use and shared by
   * every later caller, including duplicate copies of this package.
   */
  static forBackend(backendName: string = tf.getBackend()): MemoryMeter {
    const backend = tf.findBackend(backendName) as unknown as Record<string, unknown> | null;
    if (!backend) throw new Error(`MemoryMeter: backend "${backendName}" is not registered (call tf.setBackend first).`);
    const field = STORAGE_FIELDS.find((name) => isStorage(backend[name]));
    if (!field) throw new Error(`MemoryMeter: backend "${backendName}" keeps its data in no known storage (${STORAGE_FIELDS.join(', ')}).`);
    const storage = backend[field] as DataStorageLike & { [INSTALLED]?: MemoryMeter };
    storage[INSTALLED] ??= new MemoryMeter(backendName, storage);
    return storage[INSTALLED];
  }

  /** Bytes of tensor data alive now on this backend. */
  liveBytes(): number {
    return this.untrackedResidentBytes + this.liveSinceInstall;
  }

  /** Starts a measured interval; call the returned function to end it and read it. */
  start(): () => MemoryReading {
    const window: MeterWindow = { startLiveBytes: this.liveSinceInstall, peakLiveBytes: this.liveSinceInstall };
    const baselineBytes = this.liveBytes();
    this.windows.add(window);
    return () => {
      this.windows.delete(window);
      return {
        peakBytes: window.peakLiveBytes - window.startLiveBytes,
        baselineBytes,
        endBytes: this.liveSinceInstall - window.startLiveBytes,
        baselineExact: this.baselineExact,
        backend: this.backendName,
      };
    };
  }

  private onSet(dataId: object, value: unknown): void {
    const previous = this.records.get(dataId);
    if (previous) this.release(previous);
    const record = describeBuffer(dataId, value);
    this.records.set(dataId, record);
    const shared = this.bufferRefs.get(record.key);
    if (shared) {
      shared.refs += 1;
      return;
    }
    this.bufferRefs.set(record.key, { bytes: record.bytes, refs: 1 });
    this.liveSinceInstall += record.bytes;
    for (const window of this.windows) window.peakLiveBytes = Math.max(window.peakLiveBytes, this.liveSinceInstall);
  }

  private onDelete(dataId: object, value: unknown): void {
    const record = this.records.get(dataId);
    if (record) {
      this.records.delete(dataId);
      this.release(record);
      return;
    }
    // Made before install: its size is known only now.
    const bytes = describeBuffer(dataId, value).bytes;
    const fromEstimate = Math.min(bytes, this.untrackedResidentBytes);
    this.untrackedResidentBytes -= fromEstimate;
    this.liveSinceInstall -= bytes - fromEstimate;
  }

  private release(record: BufferRecord): void {
    const shared = this.bufferRefs.get(record.key);
    if (!shared) return;
    shared.refs -= 1;
    if (shared.refs > 0) return;
    this.bufferRefs.delete(record.key);
    this.liveSinceInstall -= shared.bytes;
  }
}

/**
 * Runs `fn` and reports the real peak memory of tensor data it caused on the current backend:
 * each buffer counted once, the resident baseline subtracted.
 *
 * ```ts
 * const { result, peakBytes } = measurePeakMemory(() => trainStep(batch));
 * ```
 */
export function measurePeakMemory<T>(fn: () => T): MemoryMeasurement<T> {
  const stop = MemoryMeter.forBackend().start();
  let result: T;
  try {
    result = fn();
  } catch (error) {
    stop();
    throw error;
  }
  return { result, ...stop() };
}

/** `measurePeakMemory` for an async function (anything else allocating meanwhile is counted too). */
export async function measurePeakMemoryAsync<T>(fn: () => Promise<T> | T): Promise<MemoryMeasurement<T>> {
  const stop = MemoryMeter.forBackend().start();
  let result: T;
  try {
    result = await fn();
  } catch (error) {
    stop();
    throw error;
  }
  return { result, ...stop() };
}
