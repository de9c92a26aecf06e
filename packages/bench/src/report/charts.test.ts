import { describe, expect, it } from 'vitest';
import { chartFileStem, lossCurveChart, memorySweepChart, renderChart, reportCharts, scoreVsTrainableChart, throughputChart } from './charts';
import { reportFixture } from './test-fixture';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Width and height from the PNG's IHDR chunk (big-endian at bytes 16 and 20). */
function pngSize(png: Uint8Array): { width: number; height: number } {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

function svgSize(svg: string): { width: number; height: number } {
  const match = /<svg[^>]* width="(\d+)" height="(\d+)"/.exec(svg);
  return { width: Number(match?.[1]), height: Number(match?.[2]) };
}

/** Text of the SVG's <text> elements, entities decoded. */
function svgTexts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((match) => match[1]!.replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>'));
}

describe('report charts', () => {
  it('draws every chart the fixture has data for, in order', () => {
    // Only full (seed 1) recorded a loss curve in the fixture, so it alone gets a loss chart.
    expect(reportCharts(reportFixture()).map((chart) => chart.name)).toEqual(['score-vs-trainable', 'memory-vs-batch', 'throughput', 'loss-full']);
  });

  it('loss curve: a train-loss line per seed and the validation score per evaluation, on two axes', async () => {
    const results = reportFixture();
    const lora = results.runs.filter((run) => run.method === 'lora');
    lora[0]!.lossCurve = [{ step: 1, loss: 1.2 }, { step: 2, loss: 0.9 }, { step: 3, loss: 0.7 }];
    lora[1]!.lossCurve = [{ step: 1, loss: 1.1 }, { step: 2, loss: 1.0 }, { step: 3, loss: 0.8 }];
    lora[0]!.evalCurve = [{ step: 2, score: 0.55 }, { step: 3, score: 0.61 }];
    const chart = lossCurveChart(results, 'lora')!;
    expect(chart.name).toBe('loss-lora');
    const layers = (chart.spec as { layer: Array<{ data: { values: Array<Record<string, unknown>> } }> }).layer;
    expect(layers[0]!.data.values).toHaveLength(6);
    expect(layers[1]!.data.values).toEqual([{ seed: 'seed 1', step: 2, score: 55.00000000000001 }, { seed: 'seed 1', step: 3, score: 61 }]);
    const texts = svgTexts((await renderChart(chart.spec, { scale: 1 })).svg);
    expect(texts).toContain('train loss');
    expect(texts).toContain('validation accuracy ×100 (◆)');
    expect(texts).toContain('seed 2');
    expect(lossCurveChart(results, 'bitfit')).toBeUndefined();
    expect(chartFileStem('acme/lora+bitfit')).toBe('acme_lora+bitfit');
  });

  it('score vs trainable: method names, axis titles, one error bar per method, log x axis', async () => {
    const { svg } = await renderChart(scoreVsTrainableChart(reportFixture()).spec, { scale: 1 });
    const texts = svgTexts(svg);
    for (const name of ['full', 'lora', 'bitfit']) expect(texts).toContain(name);
    expect(texts).toContain('trainable parameters (% of total, log scale)');
    expect(texts).toContain('accuracy ×100 (mean ± std over seeds)');
    // A log axis from 0.1% to 100% labels its decades.
    expect(texts).toEqual(expect.arrayContaining(['0.1', '1', '10', '100']));
    // One error bar per method, from mean − std to mean + std (×100): full 82 ± 2.828, lora 78.5 ± 0.707, bitfit none.
    const bars = [...svg.matchAll(/aria-label="[^"]*: ([\d.]+); upper: ([\d.]+); method: (\w+)" role="graphics-symbol" aria-roledescription="rule mark"/g)];
    const spans = Object.fromEntries(bars.map((bar) => [bar[3], [Number(bar[1]), Number(bar[2])]]));
    expect(Object.keys(spans).sort()).toEqual(['bitfit', 'full', 'lora']);
    expect(spans.full![0]).toBeCloseTo(82 - 100 * Math.sqrt(0.0008), 6);
    expect(spans.full![1]).toBeCloseTo(82 + 100 * Math.sqrt(0.0008), 6);
    expect(spans.lora![1]).toBeCloseTo(78.5 + 100 * Math.sqrt(0.00005), 6);
    expect(spans.bitfit).toEqual([75, 75]);
  });

  it('memory vs batch: a line per method, batch sizes on the axis', async () => {
    const { svg } = await renderChart(memorySweepChart(reportFixture())!.spec, { scale: 1 });
    const texts = svgTexts(svg);
    expect(texts).toEqual(expect.arrayContaining(['full', 'lora', 'batch size (log scale)', 'peak memory (MB)', '1', '2', '4']));
    expect(texts).not.toContain('bitfit');
  });

  it('throughput: both phases per method and the axis title', async () => {
    const { svg } = await renderChart(throughputChart(reportFixture())!.spec, { scale: 1 });
    const texts = svgTexts(svg);
    expect(texts).toEqual(expect.arrayContaining(['full', 'lora', 'bitfit', 'train', 'inference', 'tokens per second (% of full fine-tuning)']));
  });

  it('has no memory chart without a sweep and no throughput chart without full', () => {
    const results = reportFixture();
    delete results.memorySweep;
    results.runs = results.runs.filter((run) => run.method !== 'full');
    expect(memorySweepChart(results)).toBeUndefined();
    expect(throughputChart(results)).toBeUndefined();
    expect(reportCharts(results).map((chart) => chart.name)).toEqual(['score-vs-trainable']);
  });

  it('draws text with the loaded fonts (resvg silently drops text without a font)', async () => {
    const spec = throughputChart(reportFixture())!.spec;
    const withFonts = await renderChart(spec, { scale: 1 });
    const withoutFonts = await renderChart(spec, { scale: 1, loadSystemFonts: false });
    expect(withFonts.svg).toBe(withoutFonts.svg);
    // Glyphs add detail that compresses worse, so the PNG with text is larger.
    expect(withFonts.png.length).toBeGreaterThan(withoutFonts.png.length + 1000);
  });

  it('renders a PNG of the SVG size times the scale, byte-identical across renders', async () => {
    const spec = scoreVsTrainableChart(reportFixture()).spec;
    const first = await renderChart(spec, { scale: 2 });
    const second = await renderChart(spec, { scale: 2 });
    expect([...first.png.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
    const svg = svgSize(first.svg);
    expect(svg.width).toBeGreaterThan(480);
    expect(pngSize(first.png)).toEqual({ width: 2 * svg.width, height: 2 * svg.height });
    expect({ width: first.width, height: first.height }).toEqual(pngSize(first.png));
    expect(second.svg).toBe(first.svg);
    expect(Buffer.from(second.png).equals(Buffer.from(first.png))).toBe(true);
  });
});
