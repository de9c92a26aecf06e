import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const BANNER = /install our node backend/;
const packageRoot = fileURLToPath(new URL('../..', import.meta.url));
const coreIndex = pathToFileURL(fileURLToPath(new URL('../index.ts', import.meta.url))).href;
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Runs an ES module snippet in a fresh Node process (a fresh tfjs: the banner prints once per process). */
async function run(script: string): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, ['--conditions=@peftjs/source', '--import', tsxLoader, '--input-type=module', '-e', script], { cwd: packageRoot });
}

describe("tfjs' node-backend banner", () => {
  it('is printed by plain tfjs on the cpu backend (the control), and not once @peftjs/core is loaded', async () => {
    const plain = await run(`import * as tf from '@tensorflow/tfjs'; await tf.setBackend('cpu'); console.log(tf.tensor([1, 2]).sum().dataSync()[0]);`);
    expect(plain.stdout.trim()).toBe('3');
    expect(plain.stderr).toMatch(BANNER);

    const core = await run(`const { tf } = await import('${coreIndex}'); await tf.setBackend('cpu'); console.log(tf.tensor([1, 2]).sum().dataSync()[0]);`);
    expect(core.stdout.trim()).toBe('3');
    expect(core.stderr).not.toMatch(BANNER);
  }, 120_000);

  it('is not printed when initBackend picks cpu, which reports the backend instead; other tfjs warnings still are', async () => {
    const { stdout, stderr } = await run(
      `const { tf, initBackend } = await import('${coreIndex}');
       const info = await initBackend({ prefer: 'cpu' });
       tf.tensor([1]).dataSync();
       console.log(info.backend);
       tf.registerKernel({ kernelName: 'Abs', backendName: 'cpu', kernelFunc: () => { throw new Error('unused'); } });`,
    );
    expect(stdout.trim()).toBe('cpu');
    expect(stderr).not.toMatch(BANNER);
    // tfjs' own warning about a kernel registered twice is untouched.
    expect(stderr).toMatch(/already registered/);
  }, 120_000);
});
