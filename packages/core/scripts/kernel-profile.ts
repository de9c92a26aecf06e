import { tf } from '../src/nn/tf';

/** Total time of one kernel name over a profiled step. */
export interface KernelTime {
  kernel: string;
  ms: number;
  calls: number;
}

/**
 * Runs `step` once under tf.profile and sums the kernel times by kernel name, slowest first. Kernel
 * times come from the backend's own timer around each kernel (wasm and cpu time synchronously), so
 * they add up to the compute time of the step; the JS between kernels is not in them.
 */
export async function profileKernels(step: () => void): Promise<KernelTime[]> {
  const info = await tf.profile(step);
  const totals = new Map<string, KernelTime>();
  for (const kernel of info.kernels) {
    const entry = totals.get(kernel.name) ?? { kernel: kernel.name, ms: 0, calls: 0 };
    entry.ms += Number(await kernel.kernelTimeMs);
    entry.calls += 1;
    totals.set(kernel.name, entry);
  }
  return [...totals.values()].map((entry) => ({ ...entry, ms: Math.round(entry.ms * 10) / 10 })).sort((a, b) => b.ms - a.ms);
}
