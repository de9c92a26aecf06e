import { beforeAll, describe, expect, it } from 'vitest';
import { PeftError } from '../errors/peft-error';
import { Linear } from './linear';
import { Module } from './module';
import { Parameter } from './parameter';
import { tf } from './tf';

class Pair extends Module {
  constructor() {
    super();
    this.registerModule('first', new Linear(3, 4, { role: 'ffn.up' }));
    this.registerModule('second', new Linear(4, 2, { role: 'ffn.down', bias: false }));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.child<Linear>('second').forward(this.child<Linear>('first').forward(x)));
  }
}

class Tree extends Module {
  constructor() {
    super();
    this.registerModule('block', new Pair());
    this.registerParameter('scale', new Parameter(tf.ones([2]), { kind: 'gamma' }));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.mul(this.child('block').forward(x), this.parameter('scale').value));
  }
}

class AddOne extends Module {
  constructor(readonly inner: Module) {
    super();
    this.registerModule('base', inner);
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.add(this.child('base').forward(x), 1));
  }
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

describe('Module', () => {
  it('lists modules and parameters with dotted paths in registration order', () => {
    const tree = new Tree();
    expect(tree.namedModules().map(([p]) => p)).toEqual(['', 'block', 'block.first', 'block.second']);
    expect(tree.namedParameters().map(([p]) => p)).toEqual(['scale', 'block.first.weight', 'block.first.bias', 'block.second.weight']);
    expect(tree.getModule('block.first').role).toBe('ffn.up');
    expect(tree.getParameter('block.second.weight').shape).toEqual([4, 2]);
    expect(tree.parameters().reduce((n, p) => n + p.size, 0)).toBe(2 + 12 + 4 + 8);
    tree.dispose();
  });

  it('replaces a child with a wrapper that forward then goes through', () => {
    const tree = new Tree();
    const x = tf.randomNormal([5, 3], 0, 1, 'float32', 1);
    const before = tree.forward(x);
    const original = tree.getModule('block.second');
    const wrapper = tree.replaceModule('block.second', (current) => new AddOne(current));
    expect(tree.getModule('block.second')).toBe(wrapper);
    expect(tree.getModule('block.second.base')).toBe(original);
    expect(tree.namedParameters().map(([p]) => p)).toContain('block.second.base.weight');
    const after = tree.forward(x);
    // scale is ones, so the wrapper's +1 shows up unchanged.
    expect(Array.from(after.sub(before).dataSync()).every((d) => Math.abs(d - 1) < 1e-6)).toBe(true);
    tf.dispose([x, before, after]);
    tree.dispose();
  });

  it('gives clear errors for unknown children and parameters', () => {
    const tree = new Tree();
    expect(() => tree.getModule('block.third')).toThrowError(/no child "third".*first, second/);
    try {
      tree.getParameter('block.first.gamma');
      expect.unreachable();
    } catch (error) {
      expect(PeftError.isInstance(error)).toBe(true);
      expect((error as PeftError).allowed).toEqual(['weight', 'bias']);
    }
    tree.dispose();
  });

  it('propagates train/eval and freeze to every descendant', () => {
    const tree = new Tree();
    tree.eval();
    expect(tree.namedModules().every(([, m]) => !m.training)).toBe(true);
    tree.train();
    expect(tree.namedModules().every(([, m]) => m.training)).toBe(true);
    tree.getModule('block').freeze();
    expect(tree.trainableParameters().length).toBe(1);
    tree.dispose();
  });

  it('lists a parameter shared by two modules once', () => {
    const tree = new Tree();
    const shared = tree.getParameter('block.first.weight');
    (tree.getModule('block.second') as unknown as { registerParameter(n: string, p: Parameter): void }).registerParameter('tied', shared);
    expect(tree.namedParameters().filter(([, p]) => p === shared).length).toBe(1);
    tree.dispose();
  });
});
