/**
 * Seeded randomness. tfjs initialisers and dropout take integer seeds; peftjs draws them from
 * one seeded stream so a run is reproducible from `setGlobalSeed(seed)`.
 */
export class SeedStream {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1) (mulberry32). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer seed for a tfjs op. */
  nextSeed(): number {
    return Math.floor(this.next() * 2 ** 31);
  }

  /** An integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.next() * n);
  }

  getState(): number {
    return this.state;
  }

  setState(state: number): void {
    this.state = state >>> 0;
  }
}

let globalStream = new SeedStream(42);

/** Reseeds the stream that initialisers and dropout draw from. */
export function setGlobalSeed(seed: number): void {
  globalStream = new SeedStream(seed);
}

export function globalSeeds(): SeedStream {
  return globalStream;
}
