import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every metric of the service an operator would page on, in one place, as typed
 * objects the rest of the code calls. docs/operations.md says what each one means and
 * which alerts to build on it. One instance per process (tests make their own).
 *
 * Label values are bounded sets (route patterns, command names, outcomes, status
 * codes): never a user, room or request id, which would grow the series without end.
 */
export interface ChatMetrics {
  readonly registry: Registry;
  /** Appends by store (`postgres`, `eventstoredb`) and outcome (`ok`, `conflict`, `busy`, `error`). */
  readonly appends: Counter<'store' | 'outcome'>;
  /** Appends waiting for the store's next group commit, read at scrape time (see watchAppendQueue). */
  readonly appendQueue: Gauge<'store'>;
  /** Reports `read()` as the append queue of `store` at each scrape. */
  watchAppendQueue(store: string, read: () => number): void;
  /**
   * Events read from the store's log (`readAll`: the projection, the notification
   * outbox's feeder, the live feed and the lag probes), by store. Every process reads
   * every event once per reader: this is what grows with the number of processes on
   * one database (docs/performance.md, "Past one process").
   */
  readonly eventsRead: Counter<'store'>;
  /** Events per append. */
  readonly appendBatchSize: Histogram<'store'>;
  readonly appendDuration: Histogram<'store' | 'outcome'>;
  /** Commands by name (`sendMessage`, `openRoom`, …) and outcome (`ok`, a domain error code, `error`). */
  readonly commands: Counter<'command' | 'outcome'>;
  readonly commandDuration: Histogram<'command' | 'outcome'>;
  /** Committed events a projection has not applied yet (capped: see projectionLag.ts). */
  readonly projectionLagEvents: Gauge<'projection'>;
  /** Age of the oldest event a projection has not applied yet; 0 when it is caught up. */
  readonly projectionLagSeconds: Gauge<'projection'>;
  /** Fills both projection lag gauges from `measure` at each scrape (nothing runs between scrapes). */
  watchProjectionLag(projection: string, measure: () => Promise<{ events: number; seconds: number }>): void;
  /** From an event's `recordedAt` to this process handing it to its WebSocket connections. */
  readonly liveDelivery: Histogram;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  /** Requests and frames refused for going over a per-user budget, by budget (`send`, `command`, `read`, `resume`, `typing`). */
  readonly rateLimited: Counter<'budget'>;
  /** Work refused to protect the service (connection caps, overload), by reason. */
  readonly refused: Counter<'reason'>;
  /** Photo uploads this process is handling (admitted, not yet answered), read at each scrape. */
  readonly uploadsInProgress: Gauge;
  /** Reports `read()` as the uploads in progress at each scrape. */
  watchUploads(read: () => number): void;
}

/** Latencies from 1 ms to 10 s: a chat send is expected in the tens of milliseconds. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createChatMetrics(options: { defaultMetrics?: boolean } = {}): ChatMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const lagSources = new Map<string, () => Promise<{ events: number; seconds: number }>>();
  const collectLag = (pick: (lag: { events: number; seconds: number }) => number) =>
    async function collect(this: Gauge<'projection'>): Promise<void> {
      for (const [projection, measure] of lagSources) {
        // A failed probe leaves the last value: /readyz and the store's own alerts say why.
        const lag = await measure().catch(() => null);
        if (lag !== null) this.set({ projection }, pick(lag));
      }
    };
  const queueSources = new Map<string, () => number>();
  let uploadsSource: () => number = () => 0;
  return {
    watchUploads: (read) => {
      uploadsSource = read;
    },
    uploadsInProgress: new Gauge({
      name: 'chat_uploads_in_progress',
      help: 'Photo uploads this process is handling: admitted, not yet answered (at most ATTACHMENT_UPLOADS_AT_ONCE)',
      collect(this: Gauge) {
        this.set(uploadsSource());
      },
      registers,
    }),
    watchProjectionLag: (projection, measure) => {
      lagSources.set(projection, measure);
    },
    watchAppendQueue: (store, read) => {
      queueSources.set(store, read);
    },
    appendQueue: new Gauge({
      name: 'chat_event_append_queue',
      help: "Appends waiting for the event store's next group commit, in this process",
      labelNames: ['store'],
      collect(this: Gauge<'store'>) {
        for (const [store, read] of queueSources) this.set({ store }, read());
      },
      registers,
    }),
    registry,
    appends: new Counter({
      name: 'chat_event_appends_total',
      help: 'Appends to the event store, by store and outcome (ok, conflict, busy, error)',
      labelNames: ['store', 'outcome'],
      registers,
    }),
    eventsRead: new Counter({
      name: 'chat_events_read_total',
      help: "Events read from the event store's log by this process (projection, outbox feeder, live feed, lag probes), by store",
      labelNames: ['store'],
      registers,
    }),
    appendBatchSize: new Histogram({
      name: 'chat_event_append_batch_size',
      help: 'Events per append to the event store',
      labelNames: ['store'],
      buckets: [1, 2, 5, 10, 20, 50, 100, 500],
      registers,
    }),
    appendDuration: new Histogram({
      name: 'chat_event_append_duration_seconds',
      help: 'Time an append to the event store took, by store and outcome',
      labelNames: ['store', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    commands: new Counter({
      name: 'chat_commands_total',
      help: 'Commands handled, by command and outcome (ok, a contract error code, or error)',
      labelNames: ['command', 'outcome'],
      registers,
    }),
    commandDuration: new Histogram({
      name: 'chat_command_duration_seconds',
      help: 'Time a command took from call to stored events, by command and outcome',
      labelNames: ['command', 'outcome'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    projectionLagEvents: new Gauge({
      name: 'chat_projection_lag_events',
      help: 'Committed events the projection has not applied yet (capped at the probe size)',
      labelNames: ['projection'],
      collect: collectLag((lag) => lag.events),
      registers,
    }),
    projectionLagSeconds: new Gauge({
      name: 'chat_projection_lag_seconds',
      help: 'Age of the oldest committed event the projection has not applied yet; 0 when caught up',
      labelNames: ['projection'],
      collect: collectLag((lag) => lag.seconds),
      registers,
    }),
    liveDelivery: new Histogram({
      name: 'chat_live_delivery_seconds',
      help: "From an event's recordedAt to this process handing it to its WebSocket connections",
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    httpRequests: new Counter({
      name: 'chat_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'chat_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    rateLimited: new Counter({
      name: 'chat_rate_limited_total',
      help: 'Requests and frames refused for going over a per-user budget (HTTP and WebSocket alike), by budget',
      labelNames: ['budget'],
      registers,
    }),
    refused: new Counter({
      name: 'chat_refused_total',
      help: 'Work refused to protect the service (connection caps, overload), by reason',
      labelNames: ['reason'],
      registers,
    }),
  };
}

/** Seconds since `start` (a `process.hrtime.bigint()` reading). */
export function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}
