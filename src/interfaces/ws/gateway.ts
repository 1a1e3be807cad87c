import type { MessageViewOptions } from '../../domain/room';
import { FairTurns } from '../../application/live/fairTurns';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { Counter, Gauge, type Registry } from 'prom-client';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { LiveFeed } from '../../application/live/liveFeed';
import type { ErasedUsers } from '../../application/privacy/erasedUsers';
import type { Principal, TokenVerifier } from '../../application/ports/auth';
import type { IdGenerator } from '../../application/ports/ids';
import type { Logger } from '../../application/ports/logger';
import type { PresenceTracker } from '../../application/ports/presence';
import type { ChatQueries, ProjectionProgress } from '../../application/ports/readModels';
import { UnavailableError } from '../../application/unavailable';
import { SendAdmission } from './sendAdmission';
import type { RoomDirectory } from '../../application/ports/roomDirectory';
import type { TypingSignals } from '../../application/ports/typingSignals';
import type { RoomCommands } from '../../application/room/roomCommands';
import { CloseCode } from './closeCodes';
import { Connection, type ConnectionLimits } from './connection';
import { makeDispatcher, type Dispatcher } from './dispatch';
import { LiveFanOut } from './fanOut';
import { ruleOf, refOfFrame, refuseOverBudget, type FrameRule } from './frameRules';
import { errorFrame, parseClientFrame, type ClientFrame } from './frames';
import { decideHandshake, refuseUpgrade } from './handshake';
import type { UserBudgets } from '../../application/limits/userBudgets';
import { ConnectionRegistry } from './registry';

/** Timings and limits that are not configuration; tests shorten them instead of sleeping. */
export interface GatewayTuning {
  /** The server pings this often and cuts a peer that did not answer the previous ping. */
  pingIntervalMs: number;
  /** Unsent bytes per connection before it is closed with 4008. */
  maxBufferedBytes: number;
  /** Client frames waiting to be handled before the connection is closed with 1008. */
  maxQueuedFrames: number;
  /** How long a closed connection's peer has to answer the close frame. */
  closeGraceMs: number;
  /** How long after the token's `exp` the connection is closed with 4001. */
  expiryGraceMs: number;
  /** How long an ack waits for the live feed before it is sent directly. */
  ackFallbackMs: number;
  /** On shutdown, how long clients have to answer the 1001 close before they are cut. */
  shutdownGraceMs: number;
  /** A new connection holds live messages back this long, or until its first frame other than `resume`. */
  warmupMs: number;
  /** How long a `resume` waits for the read models to catch up with the live side before answering `unavailable`. */
  resumeWaitMs: number;
  /** Sends admitted and not yet answered in the process, past which a new one is answered `unavailable` at once (sendAdmission.ts). */
  maxSendsInHand: number;
  /** A new send is answered `unavailable` while even the quickest ack of the last window waited longer than this... */
  shedAtWaitMs: number;
  /** ...with at least this many sends in hand (a lone slow send sheds nothing). */
  shedMinSendsInHand: number;
  /** The window over which answers' waits are read. */
  shedWindowMs: number;
}

export const defaultTuning: GatewayTuning = {
  pingIntervalMs: 25_000,
  maxBufferedBytes: 1024 * 1024,
  maxQueuedFrames: 256,
  closeGraceMs: 5_000,
  expiryGraceMs: 0,
  ackFallbackMs: 5_000,
  shutdownGraceMs: 1_000,
  warmupMs: 1_000,
  resumeWaitMs: 5_000,
  maxSendsInHand: 512,
  shedAtWaitMs: 200,
  shedMinSendsInHand: 64,
  shedWindowMs: 100,
};

export interface GatewayDeps {
  config: {
    wsMaxFrameBytes: number;
    sendRateLimit: number;
    allowedOrigins: readonly string[] | null;
    wsMaxConnectionsPerUser: number;
    wsMaxConnections: number;
    /** SAFETY_HINTS (default on): whether live messages carry safety hints. */
    safetyHints?: boolean;
  };
  /** How live messages are shown (safety hints, photo URLs); default: from config.safetyHints, no photo URLs. */
  messageView?: MessageViewOptions;
  verifier: TokenVerifier;
  commands: RoomCommands;
  queries: ChatQueries;
  directory: RoomDirectory;
  typing: TypingSignals;
  liveFeed: LiveFeed;
  /** How far the read models are: live events that read them wait for it. */
  progress: ProjectionProgress;
  ids: IdGenerator;
  logger: Logger;
  metrics?: Registry;
  tuning?: Partial<GatewayTuning>;
  /** The per-user budgets, the HTTP routes' own: both ways of doing a thing draw from one budget. */
  budgets: UserBudgets;
  /** Told of every connection that opens and closes, so other processes know who is online. */
  presence?: PresenceTracker;
  /** Erased users: their connections close with 4003 as soon as this process hears of the erasure. */
  erasedUsers?: Pick<ErasedUsers, 'has' | 'onAdded'>;
}

/**
 * The WebSocket side of the contract on `/chat`: authenticates the upgrade before any
 * socket opens, turns client frames into use cases, and pushes this process's share
 * of the live feed to its connections. Several processes may run it on one database:
 * each follows the store itself.
 */
export class ChatGateway {
  private readonly tuning: GatewayTuning;
  private readonly wss: WebSocketServer;
  private readonly registry = new ConnectionRegistry();
  private readonly fanOut: LiveFanOut;
  private readonly dispatch: Dispatcher;
  private readonly protocolFor = new WeakMap<IncomingMessage, string | false>();
  private readonly stops: Array<() => unknown> = [];
  private heartbeat: NodeJS.Timeout | null = null;
  private closed = false;
  /** Which sends are taken on: refused at the door under overload, so those taken stay fast. */
  private readonly admission: SendAdmission;
  private readonly metrics: {
    connections: Gauge;
    refused: Counter<'status'>;
    serverCloses: Counter<'code'>;
    sendsRefused: Counter<'reason'>;
  };

  constructor(private readonly deps: GatewayDeps) {
    this.tuning = { ...defaultTuning, ...deps.tuning };
    this.admission = new SendAdmission({
      maxInHand: this.tuning.maxSendsInHand,
      targetWaitMs: this.tuning.shedAtWaitMs,
      minInHandToShed: this.tuning.shedMinSendsInHand,
      windowMs: this.tuning.shedWindowMs,
    });
    this.wss = new WebSocketServer({
      noServer: true,
      // Larger frames are refused by ws itself, closing with 1009.
      maxPayload: deps.config.wsMaxFrameBytes,
      // Off: compression costs memory per connection, and frames are small.
      perMessageDeflate: false,
      clientTracking: false,
      // Never the first offered protocol blindly: that could be the token.
      handleProtocols: (_protocols, req) => this.protocolFor.get(req) ?? false,
    });
    this.fanOut = new LiveFanOut(
      this.registry,
      deps.directory,
      deps.queries,
      deps.progress,
      deps.logger,
      deps.messageView ?? { safetyHints: deps.config.safetyHints ?? true },
    );
    this.dispatch = makeDispatcher({
      commands: deps.commands,
      queries: deps.queries,
      directory: deps.directory,
      typing: deps.typing,
      verifier: deps.verifier,
      ids: deps.ids,
      logger: deps.logger,
      ackFallbackMs: this.tuning.ackFallbackMs,
      budgets: deps.budgets,
      replayTurns: new FairTurns(),
      livePushed: async () => {
        const pushed = deps.liveFeed.handedOutUpTo;
        if (pushed !== null && !(await deps.progress.waitFor(pushed, this.tuning.resumeWaitMs))) {
          throw new UnavailableError('the read models are behind; resume again in a moment');
        }
      },
    });
    const registers = deps.metrics ? [deps.metrics] : [];
    this.metrics = {
      connections: new Gauge({ name: 'chat_ws_connections', help: 'Open WebSocket connections in this process', registers }),
      refused: new Counter({ name: 'chat_ws_handshakes_refused_total', help: 'WebSocket handshakes refused, by HTTP status', labelNames: ['status'], registers }),
      serverCloses: new Counter({ name: 'chat_ws_server_closes_total', help: 'WebSocket connections the server closed, by close code', labelNames: ['code'], registers }),
      sendsRefused: new Counter({
        name: 'chat_ws_sends_refused_total',
        help: 'WebSocket sends answered unavailable on arrival: overload (the process), connection (its own 256 in hand)',
        labelNames: ['reason'],
        registers,
      }),
    };
    const admission = this.admission;
    new Gauge({
      name: 'chat_ws_sends_in_hand',
      help: 'WebSocket sends admitted and not yet answered in this process',
      registers,
      collect() {
        this.set(admission.sendsInHand);
      },
    });
  }

  /** Follows the live feed and the typing signals, and starts the heartbeat. */
  async start(): Promise<void> {
    this.stops.push(this.deps.liveFeed.listen(this.fanOut.onEvent));
    const erased = this.deps.erasedUsers;
    if (erased !== undefined) this.stops.push(erased.onAdded((userId) => this.closeErased(userId)));
    const unsubscribe = await this.deps.typing.subscribe((signal) => {
      for (const connection of this.registry.of(signal.toUserId)) {
        connection.send({ type: 'typing', roomId: signal.roomId, userId: signal.userId });
      }
    });
    this.stops.push(unsubscribe);
    this.heartbeat = setInterval(() => this.beat(), this.tuning.pingIntervalMs);
    this.heartbeat.unref();
  }

  /** Handles the HTTP server's upgrade requests: `/chat` only, authenticated first. */
  attach(server: HttpServer | HttpsServer): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.upgrade(req, socket, head).catch((error: unknown) => {
        this.deps.logger.error({ err: error }, 'websocket upgrade failed');
        socket.destroy();
      });
    });
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const onSocketError = (): void => {
      socket.destroy();
    };
    socket.on('error', onSocketError);
    // Checked before the token, which costs a signature check: under overload, refuse cheaply.
    if (this.registry.size >= this.deps.config.wsMaxConnections) {
      this.metrics.refused.inc({ status: '503' });
      refuseUpgrade(socket, 503, 'unavailable', 'too many connections on this server: retry in a moment');
      return;
    }
    // Async: the verifier may look keys up remotely (JWT_JWKS_URL).
    const decision = await decideHandshake(req, { verifier: this.deps.verifier, allowedOrigins: this.deps.config.allowedOrigins, logger: this.deps.logger });
    if (!decision.ok) {
      // The error listener stays: Node's HTTP server no longer watches an upgrade's socket,
      // and a client resetting it mid-refusal must not become an uncaught 'error'.
      this.metrics.refused.inc({ status: String(decision.status) });
      refuseUpgrade(socket, decision.status, decision.code, decision.message);
      return;
    }
    // From here `ws` takes the socket, with an error handler of its own.
    socket.removeListener('error', onSocketError);
    if (this.closed || socket.destroyed) {
      socket.destroy();
      return;
    }
    this.protocolFor.set(req, decision.protocol);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.connected(ws, decision.principal));
  }

  /**
   * WS_MAX_CONNECTIONS_PER_USER: a new connection past it closes the user's oldest
   * (1008): the new one is the device in the user's hand, the oldest most likely a
   * forgotten tab or a socket whose peer is gone and not yet pinged out.
   */
  private makeRoomFor(userId: string): void {
    const open = [...this.registry.of(userId)].filter((c) => c.isOpen);
    const excess = open.length - (this.deps.config.wsMaxConnectionsPerUser - 1);
    for (const oldest of open.slice(0, Math.max(0, excess))) {
      oldest.close(CloseCode.policyViolation, 'too many connections for this user: the oldest was closed');
    }
  }

  private connected(ws: WebSocket, principal: Principal): void {
    this.makeRoomFor(principal.userId);
    // The 4029 allowance follows the send budget; with sends unlimited, other refusals still count against the default's.
    const rate = this.deps.config.sendRateLimit > 0 ? this.deps.config.sendRateLimit : 10;
    const limits: ConnectionLimits = {
      maxBufferedBytes: this.tuning.maxBufferedBytes,
      maxQueuedFrames: this.tuning.maxQueuedFrames,
      closeGraceMs: this.tuning.closeGraceMs,
      expiryGraceMs: this.tuning.expiryGraceMs,
      strikeAllowance: rate * 4,
      warmupMs: this.tuning.warmupMs,
      answerWaitMs: this.tuning.ackFallbackMs + 1_000,
    };
    const connection = new Connection(ws, principal, limits, this.deps.logger, (code) =>
      this.metrics.serverCloses.inc({ code: String(code) }),
    );
    this.registry.add(connection);
    this.deps.presence?.connected(connection.userId);
    this.metrics.connections.inc();
    ws.on('error', (error) => this.deps.logger.debug({ err: error, connection: connection.id }, 'websocket error'));
    ws.on('pong', () => {
      connection.alive = true;
    });
    ws.on('message', (data, isBinary) => {
      try {
        this.frame(connection, data, isBinary);
      } catch (error) {
        connection.fail(error);
      }
    });
    ws.on('close', () => {
      this.registry.remove(connection);
      this.deps.presence?.disconnected(connection.userId);
      this.metrics.connections.dec();
      connection.dispose();
    });
    if (this.closed) connection.close(CloseCode.goingAway, 'server shutting down');
    // Verified just before this process heard of the user's erasure.
    else if (this.deps.erasedUsers?.has(connection.userId) === true) connection.close(CloseCode.accountErased, 'account erased');
  }

  private closeErased(userId: string): void {
    for (const connection of this.registry.of(userId)) connection.close(CloseCode.accountErased, 'account erased');
  }

  private frame(connection: Connection, data: RawData, isBinary: boolean): void {
    if (!connection.isOpen) return;
    if (isBinary) {
      connection.send(errorFrame('bad_request', 'frame: binary frames are not supported; send JSON text', null));
      return;
    }
    const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
    const parsed = parseClientFrame(text);
    if (!parsed.ok) {
      connection.send(parsed.error);
      return;
    }
    const frame = parsed.frame;
    const rule = ruleOf(frame);
    if (connection.isWindingUp) {
      // Every send the client made gets an answer; what is owed none is dropped.
      if (rule.answeredWhileClosing) connection.send(errorFrame('rate_limited', 'rate limited: this connection is being closed (4029); reconnect later', refOfFrame(frame)));
      return;
    }
    if (!this.withinBudget(connection, frame, rule)) return;
    if (rule.lane === 'pipelined') {
      this.startPipelined(connection, frame, rule);
      return;
    }
    if (rule.holdsRoom && 'roomId' in frame) connection.holdForResume(frame.roomId);
    connection.enqueue(async () => {
      // Resumes sent first thing are handled before live messages flow; anything else ends the hold.
      if (rule.endsWarmup) connection.endWarmup();
      await this.dispatch(connection, frame);
    });
  }

  /**
   * A send: started at once beside the queue, unless the process is overloaded or the
   * connection has too many in hand; then answered `unavailable` now, with its ref.
   */
  private startPipelined(connection: Connection, frame: ClientFrame, rule: FrameRule<ClientFrame>): void {
    if (rule.endsWarmup) connection.endWarmup();
    const ticket = this.admission.admit();
    if (ticket === null) {
      this.metrics.sendsRefused.inc({ reason: 'overload' });
      connection.send(errorFrame('unavailable', 'the server is overloaded: retry (same clientMessageId) in a moment', refOfFrame(frame)));
      return;
    }
    const started = connection.startNow(() =>
      this.dispatch(connection, frame, ticket).catch((error: unknown) => {
        ticket.released();
        throw error;
      }),
    );
    if (!started) {
      ticket.released();
      this.metrics.sendsRefused.inc({ reason: 'connection' });
      connection.send(errorFrame('unavailable', 'too many sends of this connection under way: retry it (same clientMessageId) in a moment', refOfFrame(frame)));
    }
  }

  /**
   * The user's budget for this frame (its row's `budget`), in this process, before it is
   * queued: a flood is refused without waiting behind the connection's other frames. A
   * refused frame gets `rate_limited` and a strike (4029 when they pile up); a typing
   * frame over its budget is dropped silently, as typing is a hint.
   */
  private withinBudget(connection: Connection, frame: ClientFrame, rule: FrameRule<ClientFrame>): boolean {
    const budgets = this.deps.budgets;
    const kind = rule.budget;
    if (kind === null) return true;
    if (kind === 'typing') return 'roomId' in frame && budgets.mayType(connection.userId, frame.roomId);
    if (budgets.tryTakeHere(kind, connection.userId)) return true;
    refuseOverBudget(connection, budgets.refusal(kind), refOfFrame(frame));
    return false;
  }

  private beat(): void {
    for (const connection of this.registry.all()) {
      if (!connection.alive) {
        this.deps.logger.debug({ connection: connection.id }, 'websocket peer did not answer the ping; cutting it');
        connection.ws.terminate();
        continue;
      }
      connection.alive = false;
      try {
        connection.ws.ping();
      } catch (error) {
        this.deps.logger.debug({ err: error, connection: connection.id }, 'websocket ping failed');
      }
    }
  }

  /** Resolves once the live events handed over so far have reached the connections. */
  drained(): Promise<void> {
    return this.fanOut.drained();
  }

  /** Closes every connection with 1001 (cut after `shutdownGraceMs`) and stops following the feed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.fanOut.stop();
    for (const stop of this.stops.splice(0)) await stop();
    for (const connection of this.registry.all()) connection.close(CloseCode.goingAway, 'server shutting down');
    const deadline = Date.now() + this.tuning.shutdownGraceMs;
    while (this.registry.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    for (const connection of this.registry.all()) connection.ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
