// The realtime sessions of one gateway process (the overview: index.ts): each admitted and upgraded, its frames relayed
// under the credit check, the provider's events metered as they pass, and the session ended by its limits, its key's
// and account's changes, and the shutdown.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Duplex, Writable } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { Errors, TollgateError, tollgateError } from '../../domain/errors.ts';
import { newId } from '../../domain/ids.ts';
import { isRecord } from '../../domain/json-value.ts';
import { resolveCandidates, type Candidate } from '../../domain/resolve.ts';
import { applyScope, scopeError } from '../../domain/scope.ts';
import { planAttempts, type AttemptPlan } from '../../domain/routing.ts';
import type { AccountSnapshot, AuthenticatedKey, ConfigurationState } from '../../state/types.ts';
import type { RetryAction } from '../../usage/event.ts';
import type { GatewayDeps, RealtimeLimits } from '../context.ts';
import { authenticateToken, unknownKey } from '../authenticate.ts';
import { admitCredit, holdCredit, keyStage, type Admission } from '../pipeline.ts';
import { refuseUnscreenedSession } from '../firewall/index.ts';
import { refuseRoutingLoop } from '../routing-loop.ts';
import { baseHeaders, H_MODEL, H_REQUEST_ID, headerText } from '../headers.ts';
import { codecs } from '../formats/index.ts';
import type { Reservation } from '../../usage/ledger.ts';
import { PROCESS_HELD_ANSWERS, type HeldRoom } from '../exchange.ts';
import { UnfinishedMessage } from '../unfinished-message.ts';
import { QueuedMessages } from '../queued-messages.ts';
import { REALTIME_PROTOCOL, handshakeProblem, realtimeToken, writeRaw } from './upgrade.ts';
import { ProviderRefusal, failsOver, upstreamUrl, upstreamHeaders, openUpstream } from './handshake.ts';
import { MAX_MESSAGE_BYTES, CLOSE_POLICY, CLOSE_UPSTREAM, validCloseCode, unread, resumeReading, tooLong, upstreamFault, brokenFrame, relay, closeSoon } from './relay.ts';
import { OUTCOMES, CLOSES, toldError, type Ending } from './ending.ts';
import { DONE, CREATED, BUSY, TRANSCRIBED, TRANSCRIPTION_FAILED, COMMITTED, CLEARED, SESSION_CREATED, SESSION_UPDATED, ERROR, DELTA, TEXT_DELTAS, AUDIO_DELTAS, SLOWEST_AUDIO_BYTES_PER_SECOND, OWN_CREATE, OWN_UPDATE, billableEvent, clientEvent, UNREADABLE, transcriptionAsked, member, transcriptionOf, audioByteRate, ownNamed, outputLimitIn, speaksIn, errorEvent, type Billable } from './events.ts';
import { isRateLimitsEvent, withoutOperatorAccount } from './managed-key.ts';
import { emptyBuffer, Session, settled, type OpenResponse, type Ask, type Transcribing, type Unasked } from './session.ts';
import { noteInput, askRefused, bufferAllowance, holdBuffer, lateHold, noteResponse, responseHold, creditCheck } from './holds.ts';
import { noteRelayed, begunAttempt, recordResponse, transcriptionBegun, recordTranscription, recordUnreported, recordHandshake } from './metering.ts';

export const DEFAULT_REALTIME_LIMITS: RealtimeLimits = { maxSessions: 100, idleTimeoutMs: 15 * 60_000, maxDurationMs: 60 * 60_000 };

/** How long a response left open when a session ends may take to report its usage after it is cancelled. */
const METER_GRACE_MS = 1000;

export class RealtimeGateway {
  readonly #deps: GatewayDeps;
  readonly #limits: RealtimeLimits;
  readonly #server: WebSocketServer;
  readonly #sessions = new Set<Session>();
  readonly #perAccount = new Map<string, number>();
  /** Request ids and models of upgrades being completed, for the 101's headers. */
  readonly #answering = new WeakMap<IncomingMessage, Session>();
  #stopping = false;
  /** The shutdown deadline passed: a session whose admission was still under way is ended as it starts. */
  #cut = false;
  #idle: (() => void)[] = [];

  constructor(deps: GatewayDeps) {
    this.#deps = deps;
    this.#limits = deps.options.realtime ?? DEFAULT_REALTIME_LIMITS;
    // The `realtime` subprotocol is answered when offered (a browser offering its key that way requires it); the
    // key's own subprotocol never is. No permessage-deflate, here or to the provider: UnfinishedMessage counts a message's
    // bytes as its socket reads them, which holds only while ws handles each read at once (inflating, it would not).
    this.#server = new WebSocketServer({
      noServer: true, maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate: false, clientTracking: false,
      handleProtocols: (protocols) => (protocols.has(REALTIME_PROTOCOL) ? REALTIME_PROTOCOL : false),
    });
    this.#server.on('headers', (headers: string[], req: IncomingMessage) => {
      const session = this.#answering.get(req);
      if (!session) return;
      // As on every gateway answer: the id under the name the OpenAI SDK and most HTTP tooling read too.
      headers.push(`${H_REQUEST_ID}: ${session.requestId}`, `x-request-id: ${session.requestId}`);
      if (session.plan) headers.push(`${H_MODEL}: ${headerText(session.plan.candidate.modelId)}`);
    });
    deps.state.onAccessKeyChange?.((accessKeyId) => this.#keyChanged(accessKeyId));
    deps.state.onReload?.((_before, now) => this.#accountReloaded(now));
  }

  /** node:http's `upgrade` for GET /v1/realtime. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const session = new Session(this.#deps, req);
    this.#sessions.add(session);
    socket.on('error', ignore);
    const malformed = handshakeProblem(req);
    if (malformed) {
      this.#refuse(session, socket, tollgateError('invalidRequest', { reason: malformed }));
      this.#finish(session);
      return;
    }
    const gone = () => { session.clientGone = true; };
    socket.once('close', gone);
    this.#admit(session, req).then((upstream) => {
      socket.off('close', gone);
      if (session.clientGone || socket.destroyed) {
        session.refusal = 'client_gone';
        upstream.terminate();
        this.#finish(session);
        return;
      }
      this.#answering.set(req, session);
      // Synchronous without verifyClient: no client by its return means ws refused the handshake (a 400 of its own).
      this.#server.handleUpgrade(req, socket, head, (client) => this.#start(session, client, socket));
      if (!session.client) {
        session.status = 400;
        session.refusal = 'handshake_invalid';
        upstream.terminate();
        this.#finish(session);
      }
    }, (error: unknown) => {
      socket.off('close', gone);
      this.#refuse(session, socket, error);
      this.#finish(session);
    });
  }

  /** The gateway is stopping: upgrades from now on are refused (503), sessions open run until cutShort(). */
  stopAccepting(): void {
    this.#stopping = true;
  }

  /** The shutdown grace period is over: every session is told, its open responses cancelled and metered, and closed. */
  cutShort(): void {
    this.#cut = true;
    // A handshake still under way would hold the shutdown for as long as the provider takes (up to the per-request
    // timeout): it is dropped, and its client refused as every upgrade after the stop is.
    for (const session of this.#sessions) if (session.client) this.#end(session, 'shutdown');
    else session.dialing?.terminate();
  }

  /** Resolves once every session (and every upgrade being admitted) has ended and recorded its usage. */
  idle(): Promise<void> {
    return this.#sessions.size === 0 ? Promise.resolve() : new Promise((resolve) => this.#idle.push(resolve));
  }

  async #admit(s: Session, req: IncomingMessage): Promise<WebSocket> {
    const { deps } = s;
    const models = new URL(req.url ?? '/', 'http://gateway').searchParams.getAll('model');
    s.askedModel = models[0];
    if (this.#stopping) throw tollgateError('gatewayStopping');
    let found = authenticateToken(deps.state, realtimeToken(req.headers), req.headers.authorization !== undefined);
    if (found instanceof Promise) found = await found;
    if (found instanceof TollgateError) throw found;
    await keyStage(s, found);
    refuseUnscreenedSession(s.account!, s.configuration);
    refuseRoutingLoop(req.headers, deps.options.loopId);
    const admitted = admitCredit(s);
    if (admitted) await admitted;
    const attempts = this.#plan(s, this.#candidates(s, models));
    const accountId = found.accountId;
    const open = this.#perAccount.get(accountId) ?? 0;
    if (open >= this.#limits.maxSessions) throw tollgateError('realtimeSessionsLimitExceeded', { limit: String(this.#limits.maxSessions) });
    this.#perAccount.set(accountId, open + 1);
    s.slot = accountId;
    return this.#connect(s, attempts, req.headers);
  }

  #candidates(s: Session, models: string[]): Candidate[] {
    // Which one the client meant is not the gateway's to guess; the provider would be sent one of them.
    if (models.length > 1) throw tollgateError('invalidRequest', { reason: 'the "model" query parameter is given more than once; name one model.' });
    const model = models[0];
    if (!model) throw tollgateError('invalidRequest', { reason: 'name a model in the "model" query parameter, as /v1/realtime?model=gpt-realtime.' });
    const candidates = resolveCandidates({ model, models: undefined, format: 'openai', surface: 'realtime' }, s.deps.catalog, s.account!);
    const access = s.configuration?.access ?? null;
    const { allowed, rejected } = applyScope(candidates, access);
    if (allowed.length === 0) throw scopeError(rejected, access, s.configuration?.id);
    return allowed;
  }

  #plan(s: Session, allowed: readonly Candidate[]): AttemptPlan[] {
    const attempts: AttemptPlan[] = [];
    let problem: TollgateError | undefined;
    for (const candidate of allowed) {
      const plan = planAttempts(candidate, s.configuration ?? null, s.account!, s.deps.options.managedKeys);
      attempts.push(...plan.attempts);
      problem ??= plan.problem;
    }
    if (attempts.length === 0) throw problem ?? tollgateError('noProviderKeys', { provider: allowed[0]!.provider.id });
    return attempts;
  }

  /** The provider's WebSocket, through the first credential whose handshake succeeds. */
  async #connect(s: Session, attempts: readonly AttemptPlan[], clientHeaders: IncomingHttpHeaders): Promise<WebSocket> {
    const failures: string[] = [];
    let rateLimited = 0;
    for (let i = 0; i < attempts.length; i++) {
      const plan = attempts[i]!;
      if (s.clientGone) throw tollgateError('requestCanceled');
      if (this.#cut) throw tollgateError('gatewayStopping');
      const startedAt = performance.now();
      // Set before the handshake: the provider's first messages may come in the chunk that opens it, and are metered.
      s.plan = plan;
      s.attemptNumber = i + 1;
      // Tracing on: the handshake's span starts here and its trace headers go upstream, as an HTTP attempt's.
      const trace = s.deps.observer?.tracer?.startRealtimeHandshake(s, plan, i + 1, startedAt);
      const unfinished = new UnfinishedMessage(PROCESS_HELD_ANSWERS, s.key!.accountId, (room) => this.#unheld(s, 'provider-unheld', room));
      const opened = await openUpstream(upstreamUrl(plan.candidate), upstreamHeaders(plan, clientHeaders, s.deps.options.loopId, trace), s.account!.settings.perRequestTimeoutMs, {
        onMessage: (data, isBinary) => this.#fromUpstream(s, data as Buffer, isBinary), onError: (error) => this.#upstreamError(s, error),
        dialing: (socket) => { s.dialing = socket; },
      }, unfinished);
      s.dialing = undefined;
      if ('socket' in opened) {
        s.upstream = opened.socket;
        // In use from now on (an HTTP attempt's key is marked as its answer is metered): a session of an hour, or one
        // whose gateway dies, must not leave the keys looking unused all along. Marked again when it ends.
        s.deps.state.markUsed(s.key!.id, plan.providerKey?.id);
        // Its duration runs until the session ends (#finish), as a served HTTP attempt's covers its stream.
        s.handshakes.push({ plan, status: 101, retryAction: 'succeeded', startedAt, durationMs: 0 });
        return opened.socket;
      }
      s.plan = undefined;
      const status = 'status' in opened ? opened.status : 0;
      const passed = status !== 0 && !failsOver(status);
      // The shutdown dropped this handshake (cutShort): no credential is tried after it.
      const cut = this.#cut;
      const last = passed || cut || i === attempts.length - 1;
      const retryAction: RetryAction = passed ? 'fail_fast' : last ? 'exhausted' : 'next_key';
      const durationMs = performance.now() - startedAt;
      s.handshakes.push({ plan, status, retryAction, startedAt, durationMs });
      recordHandshake(s, plan, i + 1, status, durationMs, retryAction, last);
      if (cut) throw tollgateError('gatewayStopping');
      if (passed) throw new ProviderRefusal(status, (opened as { body: Buffer }).body, (opened as { contentType: string | undefined }).contentType);
      if (status === 429) rateLimited++;
      const key = plan.keySource === 'ngrok' ? 'managed key' : plan.providerKey ? `key ${plan.providerKey.id}` : 'no key';
      failures.push(`${plan.candidate.provider.id}:${plan.candidate.modelId} (${key}): ${status ? `HTTP ${status}` : 'connection failed'}`);
    }
    if (rateLimited === attempts.length) throw tollgateError('upstreamRateLimited', { reason: 'every credential was rate limited.' });
    throw tollgateError('allProvidersFailed', { errors: failures.join('; ') });
  }

  #start(s: Session, client: WebSocket, socket: Duplex): void {
    s.client = client;
    s.upgradedAt = performance.now();
    s.status = 101;
    s.deps.observer?.realtimeOpened(s);
    const upstream = s.upstream!;
    s.lastFrameAt = performance.now();
    // Listening after `ws` (attached as it took the socket, just before this): its message events come first.
    const accountId = s.key!.accountId;
    const unfinished = new UnfinishedMessage(PROCESS_HELD_ANSWERS, accountId, (room) => this.#unheld(s, 'client-unheld', room));
    socket.on('data', (chunk: Buffer) => unfinished.read(chunk.length));
    // Messages waiting for either reader that cannot be held end the session as the client's message still arriving
    // does: the client is no longer read and the provider is, for the response.done of each open response cancelled.
    // Reading the provider on holds nothing more when it is the client that is slow: nothing goes to a client whose
    // socket is closing (relay()).
    const toClient = s.toClient = new QueuedMessages(PROCESS_HELD_ANSWERS, accountId, (room) => this.#unheld(s, 'client-unheld', room, 'messages waiting for this session\'s client to read them'));
    const toProvider = s.toProvider = new QueuedMessages(PROCESS_HELD_ANSWERS, accountId, (room) => this.#unheld(s, 'client-unheld', room, 'messages waiting for the provider to read them'));
    upstream.once('close', () => toProvider.release());
    client.on('message', (data: RawData, isBinary: boolean) => {
      unfinished.completed();
      // Ended by the gateway (a limit, the shutdown): the client is told and its socket closing, and nothing it still
      // sends goes on — a response it started now would run on past the metering grace, unbilled (#end).
      if (s.ending !== undefined) return;
      s.lastFrameAt = performance.now();
      if (s.held) {
        s.held.push([data as Buffer, isBinary]);
        // A relay's drain may have resumed the socket meanwhile (relay()): held messages stay bounded by what one read
        // brings, not by what the client sends during the check.
        client.pause();
      } else this.#fromClient(s, data as Buffer, isBinary);
    });
    // Any error of ws's receiver (a message too long, invalid UTF-8, a reserved opcode): ws reads the rest only to
    // discard it, until the socket closes (its close timer: 30 s), so nothing more is held and none of it counts.
    client.on('error', () => unfinished.release());
    // ws closes a frame it refuses (a message over maxPayload: 1009; invalid UTF-8: 1007; a reserved opcode, an unmasked
    // frame: 1002) and says nothing more, its own 'error' coming once the close frame is sent: its receiver's error
    // comes before that, and the client is told why first, in OpenAI's shape, with ws's close code. No public API
    // gives it; without the receiver (another `ws`) the client gets ws's bare close, as before.
    (client as unknown as { _receiver?: Writable })._receiver?.prependListener('error', (error: Error & { code?: string }) => {
      if (tooLong(error)) this.#end(s, 'client-frame-too-long');
      else if (s.ending === undefined) {
        s.brokenFrame = brokenFrame(error);
        this.#end(s, 'client-protocol-error');
      }
    });
    client.once('close', () => {
      unfinished.release();
      toClient.release();
      this.#end(s, 'client-left');
    });
    upstream.once('close', (code: number, reason: Buffer) => this.#upstreamClosed(s, code, reason));
    for (const [data, isBinary] of s.early) relay(client, data, isBinary, upstream, toClient);
    s.early = [];
    s.idleTimer = setTimeout(checkIdle, this.#limits.idleTimeoutMs, this, s);
    // A Playground token's session ends with the token (domain/playground-token.ts): it stands for the key no longer.
    const expiresAt = s.key!.expiresAt;
    s.durationLimitMs = expiresAt === undefined ? this.#limits.maxDurationMs : Math.max(0, Math.min(this.#limits.maxDurationMs, expiresAt - Date.now()));
    s.durationTimer = setTimeout(() => this.#end(s, 'duration'), s.durationLimitMs);
    // Closed before its client was attached (the provider hung up at once, or sent a frame ws refused, upstreamFault):
    // the session ends now.
    if (upstream.readyState !== WebSocket.OPEN) {
      if (s.upstreamFault) this.#end(s, s.upstreamFault);
      else this.#upstreamClosed(s, 1011, Buffer.alloc(0));
    }
    else if (this.#cut) this.#end(s, 'shutdown');
    // Its key was found revoked while the upgrade completed.
    else if (s.revokedBy) this.#end(s, 'revoked');
  }

  /**
   * A client message: relayed, unless it starts billable work (billableEvent) while the account has no credit — the
   * check an HTTP request passes (admitCredit: in memory, no store I/O; nothing with billing off). A refused event is
   * answered with an `error` event and the session stays open: credit bought meanwhile lets the next one through.
   */
  #fromClient(s: Session, data: Buffer, isBinary: boolean): void {
    const client = s.client!;
    // A binary frame too (here and for credit): whether the provider reads one as an event is not the gateway's to guess.
    if (s.plan?.keySource === 'ngrok' && this.#unpricedTranscription(s, data)) return;
    const read = clientEvent(data, s.deps.ledger !== undefined);
    if (read === UNREADABLE && s.deps.ledger) {
      this.#refuseEvent(s, tollgateError('invalidRequest', { reason: 'the message is not a JSON text (UTF-8, without a byte order mark); it was not sent to the provider.' }), { type: 'unreadable', clientEventId: null });
      return;
    }
    const event = read === UNREADABLE ? undefined : read;
    const billable = billableEvent(event);
    if (billable === undefined) {
      if (event !== undefined && s.deps.ledger) {
        // A transcription asked for is held at until the provider reports it or refuses: its refusal must name the update.
        const asks = event.type === 'session.update' && transcriptionOf(member(event, 'session')) ? ownNamed(s, data, event, OWN_UPDATE) : undefined;
        if (asks !== undefined) data = asks[0];
        noteInput(s, asks === undefined ? event : { ...event, event_id: asks[1] });
      }
      relay(s.upstream!, data, isBinary, client, s.toProvider!);
      return;
    }
    let admitted: void | Promise<void>;
    try {
      admitted = admitCredit(creditCheck(s), bufferAllowance(s, billable.type));
    } catch (error) {
      this.#refuseEvent(s, error, billable);
      return;
    }
    if (!admitted) {
      this.#admitted(s, billable, data, isBinary);
      return;
    }
    // A refusal that waits for a balance read under way (a grant may be arriving; ledger.available): what the client
    // sends meanwhile waits behind it, in order, and its socket is not read until the check is decided.
    s.held = [];
    client.pause();
    admitted.then(() => {
      if (s.ending !== undefined) return;
      this.#admitted(s, billable, data, isBinary);
    }, (error: unknown) => this.#refuseEvent(s, error, billable)).finally(() => this.#release(s));
  }

  /**
   * A `session.update` turning on transcription by a model the catalog cannot price, refused on the managed key (as
   * an HTTP request's unpriced option is, 27238): OpenAI bills each transcription at that model's price, which the
   * gateway could not bill. Answered with an `error` event naming it, the session left open and as it was.
   */
  #unpricedTranscription(s: Session, data: Buffer): boolean {
    const asked = transcriptionAsked(data);
    const { candidate } = s.plan!;
    if (asked === undefined || s.deps.catalog.model(candidate.provider.id, asked.model)?.priceMicro !== undefined) return false;
    const refusal = this.#counted(s, tollgateError('managedPremium', { option: `input audio transcription by ${JSON.stringify(asked.model.slice(0, 64))}`, model: candidate.modelId, provider: candidate.provider.id }));
    const client = s.client;
    if (client && client.readyState === WebSocket.OPEN) client.send(JSON.stringify(errorEvent(refusal, asked.clientEventId)));
    return true;
  }

  /**
   * A billable client event the account can pay for, relayed; a `response.create` noted as the client's ask, holding
   * the most its response can cost (responseHold), and audio appended or committed held for its transcription
   * (holdBuffer) — refused, as at a zero balance, when other responses' and requests' holds cover the balance.
   */
  #admitted(s: Session, billable: Billable, data: Buffer, isBinary: boolean): void {
    let hold: Reservation | undefined;
    const ledger = s.deps.ledger;
    if (ledger) {
      try {
        if (billable.type === 'response.create') hold = holdCredit(creditCheck(s), ledger, responseHold(s, member(billable.event, 'response')));
        else holdBuffer(s, ledger, billable.event);
      } catch (error) {
        this.#refuseEvent(s, error, billable);
        return;
      }
    }
    s.audioRefused = false;
    if (billable.type === 'response.create') this.#ask(s, billable, data, isBinary, hold);
    else {
      if (s.deps.ledger) noteInput(s, billable.event);
      relay(s.upstream!, data, isBinary, s.client!, s.toProvider!);
    }
  }

  /**
   * A `response.create`, relayed once its begun row is in the journal; the client's later messages wait behind it. A
   * session that ends meanwhile never sends it: its row is recorded failed, at no cost.
   */
  #ask(s: Session, create: Billable, data: Buffer, isBinary: boolean, hold: Reservation | undefined): void {
    let clientEventId = create.clientEventId;
    // Without an `event_id`, the provider's refusal of the create (an error in its parameters as much as another
    // response running) could name nothing, and the create's hold would stay until a later response took its place
    // or the session ended: it is given one of the gateway's own, which the refusal names (ownNamed). With billing off
    // nothing is held and the frame goes as sent.
    if (hold !== undefined) {
      const named = ownNamed(s, data, create.event, OWN_CREATE);
      if (named !== undefined) [data, clientEventId] = named;
    }
    const ask: Ask = { clientEventId, began: { eventId: newId('usageEvent'), startedAt: performance.now(), hold }, sent: false };
    s.asks.push(ask);
    s.held ??= [];
    s.noting = true;
    s.client!.pause();
    s.deps.usage.begin(begunAttempt(s, ask.began)).then(() => {
      if (s.ending !== undefined || s.finished) {
        this.#answerAsk(s, ask, 'not_sent');
        return;
      }
      ask.sent = true;
      if (clientEventId !== null) s.requested.push(clientEventId);
      relay(s.upstream!, data, isBinary, s.client!, s.toProvider!);
    }, (error: unknown) => {
      // Not noted, so never sent: its row is recorded failed at no cost and its hold given back now, not at the
      // session's end, and the client told (the gateway's fault, as an HTTP request's 500 would be).
      this.#answerAsk(s, ask, 'not_sent');
      this.#refuseEvent(s, error, create, 'realtime response.create not noted in the usage journal');
    }).finally(() => {
      s.noting = false;
      this.#release(s);
    });
  }

  /**
   * The provider refused a create without an `event_id` because a response runs: its `error` names nothing, but the
   * provider answers a connection's events in order, so it is the oldest such create relayed and not yet answered.
   * Left behind, its hold stayed until some later response took its place: a client that creates its responses itself
   * (no server VAD) had every later create refused for that hold at a small balance, until the session ended.
   */
  #busyUnnamed(s: Session): void {
    const ask = s.asks.find((a) => a.sent && a.clientEventId === null);
    if (ask !== undefined) this.#answerAsk(s, ask, BUSY);
  }

  /** An ask no response will answer (refused by the provider, or never sent): its begun row recorded failed, at no cost. */
  #answerAsk(s: Session, ask: Ask, reason: string): void {
    const at = s.asks.indexOf(ask);
    if (at < 0) return;
    s.asks.splice(at, 1);
    recordResponse(s, ask.began, { status: 'failed', status_details: { reason } });
    if (settled(s)) this.#finish(s);
  }

  /** The messages held behind a credit check, each handled in turn (one may wait for a check of its own). */
  #release(s: Session): void {
    // A create being noted releases them itself once it is relayed.
    if (s.noting) return;
    const held = s.held ?? [];
    s.held = undefined;
    resumeReading(s.client!);
    while (held.length > 0 && s.ending === undefined) {
      const [data, isBinary] = held.shift()!;
      this.#fromClient(s, data, isBinary);
      // It waits for a check of its own (#fromClient set a new queue, which TypeScript cannot see): the rest go behind it.
      const waiting = s.held as [Buffer, boolean][] | undefined;
      if (waiting) {
        waiting.push(...held);
        return;
      }
    }
  }

  /**
   * A client event refused (for credit, mostly): OpenAI's `error` event naming the client's event, the session left
   * open. `failure`: what an unexpected error is logged as.
   */
  #refuseEvent(s: Session, error: unknown, event: Pick<Billable, 'type' | 'clientEventId'>, failure?: string): void {
    if (s.ending !== undefined) return;
    const told = this.#counted(s, error, failure);
    // Audio streams in many small appends: one refusal tells the client, until something billable passes again.
    if (event.type === 'input_audio_buffer.append') {
      if (s.audioRefused) return;
      s.audioRefused = true;
    }
    const client = s.client;
    if (client && client.readyState === WebSocket.OPEN) client.send(JSON.stringify(errorEvent(told, event.clientEventId)));
  }

  /** Idle timer: re-armed for what is left when a frame came since it was set. */
  idleCheck(s: Session): void {
    const quiet = performance.now() - s.lastFrameAt;
    if (quiet >= this.#limits.idleTimeoutMs) this.#end(s, 'idle');
    else s.idleTimer = setTimeout(checkIdle, Math.max(1, this.#limits.idleTimeoutMs - quiet), this, s);
  }

  #fromUpstream(s: Session, data: Buffer, isBinary: boolean): void {
    s.lastFrameAt = performance.now();
    // Not the client's to see, as the managed key's rate-limit headers are not (headers.ts): another account's
    // sessions showed in what it had left.
    if (!isBinary && s.plan?.keySource === 'ngrok') {
      if (isRateLimitsEvent(data)) return;
      // Nor its organization's id and use, in the refusals that name them.
      data = withoutOperatorAccount(data) ?? data;
    }
    const metered = isBinary ? undefined : this.#meter(s, data);
    if (metered === 'drop') return;
    const told = metered !== undefined && 'rewritten' in metered ? metered.rewritten : data;
    if (s.client) relay(s.client, told, isBinary, s.upstream!, s.toClient!);
    else s.early.push([told, isBinary]);
    // Checked once the client has its `response.created`, so that the refusal naming the response comes after it.
    if (metered !== undefined && 'responseId' in metered) this.#checkUnasked(s, metered);
  }

  /**
   * Reads only the events metering needs (output deltas among them, whose relayed output estimates a response that
   * never reports). Says which response the provider started by itself (no `response.create` of the client's asked
   * for it), which message is not the client's to read, and which the client reads rewritten.
   */
  #meter(s: Session, data: Buffer): Unasked | 'drop' | { rewritten: Buffer } | undefined {
    // Finished: its open responses are recorded already (as failed), a late report would record one twice.
    if (s.finished) return undefined;
    if (!data.includes(DONE) && !data.includes(CREATED) && !data.includes(DELTA) && !data.includes(TRANSCRIBED) && !data.includes(TRANSCRIPTION_FAILED) && !data.includes(COMMITTED) && !data.includes(CLEARED) && !data.includes(SESSION_CREATED) && !data.includes(SESSION_UPDATED) && !data.includes(ERROR)) return undefined;
    let event: unknown;
    try {
      event = JSON.parse(data.toString('utf8'));
    } catch {
      return undefined;
    }
    if (!isRecord(event)) return undefined;
    const response = member(event, 'response');
    const id = typeof response?.id === 'string' ? response.id : '';
    if (typeof event.type === 'string' && (TEXT_DELTAS.has(event.type) || AUDIO_DELTAS.has(event.type))) {
      noteRelayed(s, event.type, event);
    } else if (event.type === 'response.created') {
      // The client's create, noted before it left, or one the provider started by itself (server VAD): noted now,
      // before its usage is known, so a gateway that dies mid-response still leaves its event.
      const ask = s.asks[0]?.sent ? s.asks.shift() : undefined;
      const began: OpenResponse = { eventId: ask ? ask.began.eventId : newId('usageEvent'), startedAt: performance.now(), relayed: { text: '', textChars: 0, audioSeconds: 0 }, hold: ask?.began.hold };
      s.open.set(id, began);
      if (!ask) s.deps.usage.begin(begunAttempt(s, began)).catch(ignore);
      // Asked for before the session began ending, started after its cancels went: stopped now, and waited for.
      if (s.ending !== undefined && s.upstream?.readyState === WebSocket.OPEN) cancelUpstream(s, s.upstream, id);
      // The provider answers the client's events in order: the first response.created after a response.create is its.
      if (s.requested.length > 0) s.requested.shift();
      else return { responseId: id };
    } else if (event.type === 'error') {
      const cause = member(event, 'error')?.event_id;
      if (typeof cause !== 'string') {
        if (member(event, 'error')?.code === BUSY) this.#busyUnnamed(s);
        return undefined;
      }
      const ownNamedEvent = cause.startsWith(`${s.ownEvent}${OWN_CREATE}`) || cause.startsWith(`${s.ownEvent}${OWN_UPDATE}`);
      // The gateway's own cancel came after its response ended: the client never sent it, and is not told of it.
      if (cause.startsWith(s.ownEvent) && !ownNamedEvent) return 'drop';
      if (s.askedTranscription?.eventId === cause) askRefused(s);
      // A response.create the provider refused starts no response: the next one created is not its.
      const refused = s.requested.indexOf(cause);
      if (refused >= 0) {
        s.requested.splice(refused, 1);
        const ask = s.asks.find((a) => a.sent && a.clientEventId === cause);
        const code = member(event, 'error')?.code;
        if (ask) this.#answerAsk(s, ask, typeof code === 'string' ? code : 'refused');
      }
      // The client sent that create or update without an `event_id`: it reads the refusal as the provider would have sent it.
      if (ownNamedEvent) return { rewritten: Buffer.from(JSON.stringify({ ...event, error: { ...member(event, 'error'), event_id: null } })) };
    } else if (event.type === 'response.done') {
      const began = s.open.get(id) ?? { eventId: newId('usageEvent'), startedAt: performance.now() };
      s.open.delete(id);
      noteResponse(s, member(response, 'usage'));
      recordResponse(s, began, response);
      // A session ending waits for its open responses' and transcriptions' usage: the last one came.
      if (settled(s)) this.#finish(s);
    } else if (event.type === 'input_audio_buffer.committed' && typeof event.item_id === 'string' && s.transcribing.has(event.item_id)) {
      // The same item announced again (a provider's retried send) is one transcription: the first keeps its hold and
      // its begun row, and audio appended since stays the next commit's, with its hold.
    } else if (event.type === 'input_audio_buffer.committed') {
      const buffer = s.buffer;
      s.buffer = emptyBuffer();
      // With transcription on, the provider transcribes the item (and bills it) whatever happens to the session: noted
      // durably now, as a response is at its start, so a gateway that dies before the transcription reports still
      // leaves its event. It takes its buffer's hold.
      if (s.transcription !== undefined && typeof event.item_id === 'string') {
        const began: Transcribing = { eventId: newId('usageEvent'), startedAt: performance.now(), model: s.transcription.model, hold: buffer.hold ?? lateHold(s, s.transcription, buffer.bytes) };
        s.transcribing.set(event.item_id, began);
        s.deps.usage.begin(transcriptionBegun(s, began).begun).catch(ignore);
      } else s.deps.ledger?.release(buffer.hold);
    } else if (event.type === 'input_audio_buffer.cleared') {
      // Nothing of it will be transcribed.
      s.deps.ledger?.release(s.buffer.hold);
      s.buffer = emptyBuffer();
    } else if (event.type === 'conversation.item.input_audio_transcription.completed' || event.type === 'conversation.item.input_audio_transcription.failed') {
      const itemId = typeof event.item_id === 'string' ? event.item_id : '';
      // Turning transcription off or switching its model after a commit does not change what transcribes that audio.
      const began = s.transcribing.get(itemId);
      s.transcribing.delete(itemId);
      // A failed transcription is not billed, but its begun row still gets its event.
      if (event.type === 'conversation.item.input_audio_transcription.completed') recordTranscription(s, began ?? s.transcription?.model, member(event, 'usage'));
      else if (began) recordTranscription(s, began, undefined, 'failed');
      if (settled(s)) this.#finish(s);
    } else if (event.type === 'session.created' || event.type === 'session.updated') {
      const session = member(event, 'session');
      const transcription = transcriptionOf(session);
      if (transcription !== undefined) {
        s.transcription = transcription ?? undefined;
        // The client's ask is in force: the provider reports it.
        if (transcription !== null && s.askedTranscription?.model === transcription.model) s.askedTranscription = undefined;
      }
      const rate = audioByteRate(session);
      if (rate !== undefined) s.outputAudioBytesPerSecond = rate ?? undefined;
      const inputRate = audioByteRate(session, 'input');
      if (inputRate !== undefined) s.inputAudioBytesPerSecond = inputRate ?? SLOWEST_AUDIO_BYTES_PER_SECOND;
      const limit = outputLimitIn(session);
      if (limit !== undefined) s.outputLimit = limit;
      const speaks = speaksIn(session);
      if (speaks !== undefined) s.outputAudio = speaks;
    }
    return undefined;
  }

  /**
   * A response the provider started by itself — under server VAD, on speech it already holds, which may have been
   * appended before the credit ran out — passes the credit check a client's `response.create` would. Refused, it is
   * cancelled at once and the client told; what it produced until then is metered from its `response.done`, as the
   * provider bills it. The input buffer is left alone: the audio is the client's, only the paid work is stopped.
   */
  #checkUnasked(s: Session, unasked: Unasked): void {
    // One that took the hold of a create of the client's (one without an `event_id`, which it may answer) is paid for.
    if (s.ending !== undefined || s.open.get(unasked.responseId)?.hold !== undefined) return;
    let admitted: void | Promise<void>;
    try {
      admitted = admitCredit(creditCheck(s));
    } catch (error) {
      this.#cancelUnpaid(s, unasked, error);
      return;
    }
    // A balance read under way (a grant may be arriving): the response runs meanwhile, and is cancelled if refused.
    if (admitted) admitted.then(() => this.#holdUnasked(s, unasked), (error: unknown) => this.#cancelUnpaid(s, unasked, error));
    else this.#holdUnasked(s, unasked);
  }

  /**
   * An admitted response the provider started by itself holds the most it can cost, as a client's create does;
   * cancelled as unpaid when other holds cover the balance. Nothing is held for one done already (its usage is settled).
   */
  #holdUnasked(s: Session, unasked: Unasked): void {
    const began = s.open.get(unasked.responseId);
    const ledger = s.deps.ledger;
    if (!ledger || !began || began.hold !== undefined || s.ending !== undefined || s.finished) return;
    try {
      began.hold = holdCredit(creditCheck(s), ledger, responseHold(s, undefined));
    } catch (error) {
      this.#cancelUnpaid(s, unasked, error);
    }
  }

  /**
   * A refusal of a client event or of a response (an unexpected failure told as internal, and logged as `failure`:
   * a credit check's unless named), counted as a refused event under the code told.
   */
  #counted(s: Session, error: unknown, failure = 'realtime credit check failed'): TollgateError {
    const refusal = error instanceof TollgateError ? error : tollgateError('internal');
    if (!(error instanceof TollgateError)) s.deps.logger.error({ requestId: s.requestId, err: error instanceof Error ? error.message : String(error) }, failure);
    s.deps.observer?.realtimeEventRefused(s, refusal.code);
    return refusal;
  }

  /** Cancels a response no counted ask of the client's started that the credit check refused, and tells the client. */
  #cancelUnpaid(s: Session, { responseId }: Unasked, error: unknown): void {
    const upstream = s.upstream;
    // Done already, or the session ending (which cancels what is open itself): nothing to stop.
    if (s.ending !== undefined || !s.open.has(responseId) || !upstream || upstream.readyState !== WebSocket.OPEN) return;
    cancelUpstream(s, upstream, responseId);
    const refusal = this.#counted(s, error);
    const told = refusal.code !== Errors.outOfCredit.code ? refusal : tollgateError('realtimeResponseUnpaid', { reason: refusal.message, responseId });
    const client = s.client;
    if (client && client.readyState === WebSocket.OPEN) client.send(JSON.stringify(errorEvent(told)));
  }

  #upstreamClosed(s: Session, code: number, reason: Buffer): void {
    if (s.finished) return;
    if (s.ending === undefined) {
      s.ending = 'upstream-closed';
      const client = s.client;
      if (client && client.readyState === WebSocket.OPEN) closeSoon(client, validCloseCode(code) ? code : CLOSE_UPSTREAM, reason.toString('utf8'));
    }
    // Nothing more can come from the provider: what is still open is recorded as it stands.
    this.#finish(s);
  }

  /**
   * Ends a session: the client told why (a limit, the shutdown), open responses cancelled, and they and the
   * transcriptions under way given a moment to report.
   */
  #end(s: Session, why: Ending): void {
    if (s.ending !== undefined || s.finished) return;
    s.ending = why;
    const told = toldError(s, why, this.#limits);
    s.errorCode = told?.code;
    const client = s.client;
    if (told && client && client.readyState === WebSocket.OPEN) {
      client.send(JSON.stringify(errorEvent(told)));
      closeSoon(client, why === 'client-protocol-error' ? s.brokenFrame!.closeCode : CLOSES[why] ?? CLOSE_POLICY, told.code);
    }
    const upstream = s.upstream;
    // The provider's message that ended it stands before any answer to a cancel: none would be read.
    if (!settled(s) && upstream && upstream.readyState === WebSocket.OPEN && why !== 'frame-too-long' && why !== 'provider-protocol-error' && why !== 'provider-unheld') {
      // The provider bills what it generated: a cancelled response still reports its usage in its response.done, and
      // a transcription under way runs to its end (and its bill) whether or not the client is still there. Each by its
      // id: a bare cancel stops the conversation's response only, and an out-of-band one would run on unmetered. A
      // response.create relayed whose response.created has not come (a client that asked and left at once) starts a
      // response all the same: it is cancelled as it is created (#meter) and waited for like the others.
      for (const responseId of s.open.keys()) cancelUpstream(s, upstream, responseId);
      // The relay may have paused the provider for a client not reading (HIGH_WATER_BYTES), whose drain may never come:
      // each response.done must still be read within the grace. Nothing more is held: relay() drops what would go to a
      // client no longer open, and this one is closing or gone.
      resumeReading(upstream);
      s.graceTimer = setTimeout(() => this.#finish(s), METER_GRACE_MS);
      return;
    }
    this.#finish(s);
  }

  /**
   * A message still arriving that the process's held answers have no room for: that side's socket is no longer read
   * (what it sends next would be held too), and the session ends, its client told the gateway is busy. Its responses
   * are metered as at any end: cancelled and waited for when it is the client's message; recorded as they stand when
   * it is the provider's (its answers would come behind the message). `client-unheld` also stands for messages
   * waiting for either reader (#start).
   */
  #unheld(s: Session, why: 'client-unheld' | 'provider-unheld', room: HeldRoom, what?: string): void {
    if (s.finished) return;
    s.unheldRoom = room;
    s.unheldWhat = what;
    const side = why === 'client-unheld' ? s.client : s.upstream;
    if (side) {
      unread.add(side);
      side.pause();
    }
    // Not yet relayed to a client (the provider's first messages, during the upgrade): the session ends as it starts.
    if (why === 'provider-unheld' && !s.client) {
      s.upstream?.terminate();
      return;
    }
    this.#end(s, why);
  }

  /**
   * A frame of the provider's that ws refused, and closed its socket for (a message over MAX_MESSAGE_BYTES, or one
   * that breaks the protocol): the client is told why its session ends, rather than read a bare close as if the
   * provider had ended it. One refused before the client's socket is attached ends the session as it starts (#start).
   */
  #upstreamError(s: Session, error: Error & { code?: string }): void {
    if (s.ending !== undefined || s.finished || s.upstreamFault !== undefined) return;
    const fault = upstreamFault(error);
    if (fault === undefined) return;
    s.upstreamFault = fault;
    if (fault === 'provider-protocol-error') s.brokenFrame = brokenFrame(error);
    if (s.client) this.#end(s, fault);
  }

  #finish(s: Session): void {
    if (s.finished) return;
    s.finished = true;
    s.endedAt = performance.now();
    if (s.upgradedAt > 0) s.outcome = OUTCOMES[s.ending ?? 'client-left'];
    clearTimeout(s.idleTimer);
    clearTimeout(s.durationTimer);
    clearTimeout(s.graceTimer);
    const recorded = recordUnreported(s, [...s.open.values()]);
    s.open.clear();
    // Creates no response.created answered (a refusal that named no event, the provider hung up): failed, at no cost.
    for (const ask of s.asks.splice(0)) recordResponse(s, ask.began, { status: 'failed', status_details: { reason: ask.sent ? 'no_response' : 'not_sent' } });
    // Transcriptions that never reported (the provider hung up, the grace ran out): recorded as cut, at no cost.
    for (const began of s.transcribing.values()) recordTranscription(s, began, undefined, 'stream_failed');
    s.transcribing.clear();
    // Audio never committed: nothing of it is transcribed.
    s.deps.ledger?.release(s.buffer.hold);
    s.buffer = emptyBuffer();
    if (s.upstream && s.upstream.readyState !== WebSocket.CLOSED) closeSoon(s.upstream, 1000, '');
    if (s.client && s.client.readyState === WebSocket.OPEN) closeSoon(s.client, CLOSE_UPSTREAM, 'session ended');
    if (s.slot !== undefined) {
      const left = (this.#perAccount.get(s.slot) ?? 1) - 1;
      if (left > 0) this.#perAccount.set(s.slot, left);
      else this.#perAccount.delete(s.slot);
      s.slot = undefined;
    }
    if (s.plan && s.key) s.deps.state.markUsed(s.key.id, s.plan.providerKey?.id);
    const opened = s.upstream ? s.handshakes[s.handshakes.length - 1] : undefined;
    if (opened) opened.durationMs = s.endedAt - opened.startedAt;
    // The session is over once its last usage event is recorded: a stopping gateway waits for it (idle()).
    if (recorded) void recorded.then(() => this.#closed(s));
    else this.#closed(s);
  }

  /** A finished session's last steps, once its usage is recorded: observed, and no longer among those a stop waits for. */
  #closed(s: Session): void {
    s.deps.observer?.realtimeFinished(s);
    this.#sessions.delete(s);
    if (this.#sessions.size > 0 || this.#idle.length === 0) return;
    const waiters = this.#idle;
    this.#idle = [];
    for (const w of waiters) w();
  }

  /** An upgrade refused before it happened: an HTTP answer in the gateway's error shape (or the provider's own refusal). */
  #refuse(s: Session, socket: Duplex, error: unknown): void {
    if (socket.destroyed || !socket.writable) {
      s.refusal = 'client_gone';
      return;
    }
    const headers = baseHeaders(s.requestId);
    // Where the SDKs read an error's request id, as on every gateway error (respond.ts writeError).
    headers['x-request-id'] = headers['request-id'] = s.requestId;
    if (error instanceof ProviderRefusal) {
      s.status = error.status;
      s.refusal = 'provider';
      headers['content-type'] = error.contentType ?? 'application/json';
      writeRaw(socket, error.status, headers, error.body);
      return;
    }
    let answer: TollgateError;
    if (error instanceof TollgateError) answer = error;
    else {
      s.deps.logger.error({ requestId: s.requestId, err: error instanceof Error ? error.message : String(error) }, 'realtime upgrade failed');
      answer = tollgateError('internal');
    }
    s.status = answer.status;
    s.refusal = s.errorCode = answer.code;
    headers['content-type'] = 'application/json';
    writeRaw(socket, answer.status, headers, Buffer.from(codecs.openai.errorBody(answer, s.requestId)));
  }

  /** An access key changed (deleted, re-linked, edited): its sessions are checked against it as stored now. */
  #keyChanged(accessKeyId: string): void {
    const affected = [...this.#sessions].filter((s) => s.key?.id === accessKeyId && s.ending === undefined && !s.finished);
    if (affected.length === 0 || !this.#deps.state.accessKeyById) return;
    let found: AuthenticatedKey | null | Promise<AuthenticatedKey | null>;
    try {
      found = this.#deps.state.accessKeyById(accessKeyId);
    } catch (error) {
      found = Promise.reject(error);
    }
    void Promise.resolve(found).then((key) => {
      for (const s of affected) void this.#recheck(s, key);
    }, () => {
      // The store does not answer: what the key allows is unknown, and the gateway fails closed (pipeline.ts keyStage).
      for (const s of affected) this.#revoke(s, tollgateError('accessKeysUnavailable'));
    });
  }

  /**
   * An account's snapshot replaced (a configuration, a Firewall policy, a provider key changed): its sessions are
   * checked against it.
   */
  #accountReloaded(account: AccountSnapshot): void {
    for (const s of this.#sessions) {
      if (s.key?.accountId !== account.accountId || s.ending !== undefined || s.finished || !s.plan) continue;
      const configuration = s.key.configurationId === null ? null : account.configurations.get(s.key.configurationId);
      try {
        if (configuration === undefined) throw tollgateError('configurationGone', { id: s.key.configurationId! });
        allows(s.plan.candidate, account, configuration);
        const retired = providerKeyRetired(s.plan, account);
        if (retired) throw retired;
        s.account = account;
        s.configuration = configuration;
      } catch (error) {
        this.#revoke(s, error);
      }
    }
  }

  /** The session's key as stored now (null: deleted): still the account's, still allowing the session's model. */
  async #recheck(s: Session, key: AuthenticatedKey | null): Promise<void> {
    try {
      if (key === null || key.accountId !== s.key!.accountId) throw unknownKey();
      const check: Admission = { deps: s.deps };
      await keyStage(check, key);
      if (s.plan) allows(s.plan.candidate, check.account!, check.configuration ?? null);
      s.key = s.key!.expiresAt === undefined ? key : { ...key, expiresAt: s.key!.expiresAt };
      s.account = check.account;
      s.configuration = check.configuration ?? null;
    } catch (error) {
      this.#revoke(s, error);
    }
  }

  /**
   * Ends a session its access key no longer allows, or whose provider key is retired, telling the client why (1008);
   * one still being admitted ends as it starts.
   */
  #revoke(s: Session, error: unknown): void {
    if (s.ending !== undefined || s.finished) return;
    s.revokedBy = error instanceof TollgateError ? error : tollgateError('internal');
    if (!(error instanceof TollgateError)) s.deps.logger.error({ requestId: s.requestId, err: error instanceof Error ? error.message : String(error) }, 'realtime key check failed');
    if (s.client) this.#end(s, 'revoked');
  }
}

function checkIdle(gateway: RealtimeGateway, s: Session): void {
  gateway.idleCheck(s);
}

function ignore(): void {
  // A broken socket ends its session through its 'close'; nothing to answer.
}

/**
 * Throws the refusal a new upgrade would get when the session's model, or the session itself, is no longer allowed
 * under `configuration` (null: the key has none) and the account's Firewall policies.
 */
function allows(candidate: Candidate, account: AccountSnapshot, configuration: ConfigurationState | null): void {
  refuseUnscreenedSession(account, configuration);
  const access = configuration?.access ?? null;
  const { allowed, rejected } = applyScope([candidate], access);
  if (allowed.length === 0) throw scopeError(rejected, access, configuration?.id);
}

/**
 * The refusal for a session on the account's own provider key that `account` no longer holds as the session opened
 * with it: deleted, or rotated — its value replaced (one this process can no longer decrypt was replaced too: it read
 * the old one). The session would otherwise speak with the retired secret until its limits. Undefined while the key
 * stands, and for the managed key (the operator's, not the account's).
 */
function providerKeyRetired(plan: AttemptPlan, account: AccountSnapshot): TollgateError | undefined {
  const key = plan.providerKey;
  if (key === undefined || account.providerKeys.get(key.id)?.value === key.value) return undefined;
  const change = account.providerKeys.has(key.id) || account.unreadableProviderKeys.has(key.id) ? 'rotated' : 'deleted';
  return tollgateError('realtimeProviderKeyRetired', { id: key.id, provider: key.providerId, change });
}

/** A `response.cancel` of the gateway's own: the provider's `error` answering it (the response ended first) is not relayed. */
function cancelUpstream(s: Session, upstream: WebSocket, responseId: string): void {
  const eventId = `${s.ownEvent}${++s.ownCancels}`;
  // A response.created that carried no id: a bare cancel, which stops the conversation's response.
  upstream.send(JSON.stringify({ type: 'response.cancel', event_id: eventId, response_id: responseId || undefined }));
}
