import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type WebSocket from 'ws';

/**
 * Sends `count` messages over an open socket one after the other, each once the one
 * before is acked, `pauseMs` apart; resolves to each send→ack in milliseconds. A refused
 * send fails the benchmark: its figure would not be a send→ack.
 */
export async function timedSends(socket: WebSocket, roomId: string, count: number, pauseMs = 0): Promise<number[]> {
  const waiting = new Map<string, () => void>();
  let refused: string | null = null;
  const onMessage = (raw: WebSocket.RawData): void => {
    const frame = JSON.parse(raw.toString()) as { type: string; clientMessageId?: string; ref?: string };
    if (frame.type === 'ack' && frame.clientMessageId !== undefined) waiting.get(frame.clientMessageId)?.();
    if (frame.type === 'error' && frame.ref !== undefined && waiting.has(frame.ref)) {
      refused = raw.toString();
      waiting.get(frame.ref)?.();
    }
  };
  socket.on('message', onMessage);
  const samples: number[] = [];
  try {
    for (let i = 0; i < count; i += 1) {
      const clientMessageId = randomUUID();
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        waiting.set(clientMessageId, resolve);
        socket.send(JSON.stringify({ type: 'send', roomId, clientMessageId, body: `timed ${i}` }));
      });
      waiting.delete(clientMessageId);
      if (refused !== null) throw new Error(`a timed send was refused: ${refused}`);
      samples.push(performance.now() - t0);
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  } finally {
    socket.off('message', onMessage);
  }
  return samples;
}

/** Median, 99th percentile and worst of `samples`, in milliseconds. */
export function summarize(samples: readonly number[]): { p50Ms: number; p99Ms: number; worstMs: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
  return { p50Ms: at(0.5), p99Ms: at(0.99), worstMs: sorted.at(-1) ?? 0 };
}
