import { objectGraph } from '../../../src/infrastructure/di/graph';
import { Lifecycle, type Component } from '../../../src/infrastructure/di/lifecycle';

const silent = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, child: () => silent } as never;

function recorded(names: string[], failStart?: string): { components: Component[]; log: string[] } {
  const log: string[] = [];
  const components = names.map((name) => ({
    name,
    start: async () => {
      await Promise.resolve();
      if (name === failStart) throw new Error(`${name} failed`);
      log.push(`start ${name}`);
    },
    stop: async () => {
      await Promise.resolve();
      log.push(`stop ${name}`);
    },
  }));
  return { components, log };
}

describe('Lifecycle', () => {
  it('starts the components in order and stops them in reverse, once however often stop is called', async () => {
    const { components, log } = recorded(['database', 'read models', 'http', 'gateway']);
    const lifecycle = new Lifecycle(components, silent);
    await lifecycle.start();
    await Promise.all([lifecycle.stop(), lifecycle.stop()]);
    await lifecycle.stop();
    expect(log).toEqual([
      'start database',
      'start read models',
      'start http',
      'start gateway',
      'stop gateway',
      'stop http',
      'stop read models',
      'stop database',
    ]);
  });

  it('a failed start stops what had started, in reverse, and passes the error on; the failed one is not stopped', async () => {
    const { components, log } = recorded(['database', 'read models', 'http', 'gateway'], 'http');
    const lifecycle = new Lifecycle(components, silent);
    await expect(lifecycle.start()).rejects.toThrow('http failed');
    expect(log).toEqual(['start database', 'start read models', 'stop read models', 'stop database']);
  });

  it('a component with no start or no stop is passed over at that step', async () => {
    const log: string[] = [];
    const lifecycle = new Lifecycle([{ name: 'a', stop: () => void log.push('stop a') }, { name: 'b', start: () => void log.push('start b') }], silent);
    await lifecycle.start();
    await lifecycle.stop();
    expect(log).toEqual(['start b', 'stop a']);
  });
});

describe('objectGraph', () => {
  it('builds each member once, on first read, from its dependencies by name', () => {
    let built = 0;
    const graph = objectGraph<{ base: number; doubled: number; both: string }>({
      base: () => {
        built += 1;
        return 21;
      },
      doubled: (s) => s.base * 2,
      both: (s) => `${s.base}/${s.doubled}`,
    });
    expect(built).toBe(0);
    expect(graph.both).toBe('21/42');
    expect(graph.doubled).toBe(42);
    expect(built).toBe(1);
  });

  it('a cycle throws naming its members', () => {
    const graph = objectGraph<{ a: number; b: number }>({ a: (s) => s.b, b: (s) => s.a });
    expect(() => graph.a).toThrow('the wiring has a cycle: a -> b -> a');
  });
});
