/**
 * One SERVER span per GraphQL operation, following the OpenTelemetry GraphQL semantic conventions: the span is named
 * after the operation TYPE (`query`, `mutation`, `subscription`) — never the operation name or the document, which
 * clients choose (unbounded cardinality) — with `graphql.operation.type` and `graphql.operation.name` as attributes.
 * The document itself is not recorded: its literals may carry user data, and its size is the client's choice.
 *
 * It continues the caller's trace context (W3C `traceparent` unless OTEL_PROPAGATORS says otherwise) from the HTTP
 * request (plain and SSE) or, over graphql-ws, from the upgrade request. Envelop hooks rather than yoga's request
 * hooks, because graphql-ws reaches execution through `getEnveloped` and never passes yoga's request pipeline.
 * Resolvers run inside the span (upstream CLIENT spans become its children); a subscription's span lasts as long as
 * its stream and records each push as an event. Operations that fail to parse or validate get a span named
 * `GraphQL Operation` (the conventions' fallback when the type is unknown) with ERROR status.
 */
import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';
import { getOperationAST, type DocumentNode, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { markFailed, remoteContext, tracer, tracingEnabled } from '../observability/spans.js';
import { recordRequestSpan } from './request-log.js';

interface TracedContext {
  request?: { headers: Headers };
  req?: { headers: Record<string, string | string[] | undefined> };
}

const FALLBACK_NAME = 'GraphQL Operation';

/** When each operation began (its parse), so its span covers parse and validation too. */
const startedAt = new WeakMap<object, number>();

const epochNow = () => performance.timeOrigin + performance.now();

/** The operation's start, forgotten once read: a subscription's context (the key) lives as long as the stream. */
function takeStart(ctx: object): number {
  const started = startedAt.get(ctx) ?? epochNow();
  startedAt.delete(ctx);
  return started;
}

export function useGraphQLTracing(): Plugin {
  return {
    onParse({ context: ctx }) {
      if (!tracingEnabled()) return;
      startedAt.set(ctx, epochNow());
      return ({ result }) => {
        if (result instanceof Error) failedOperation(ctx, 'GRAPHQL_PARSE_FAILED');
      };
    },
    onValidate({ context: ctx }) {
      if (!tracingEnabled()) return;
      return ({ valid }) => {
        if (!valid) failedOperation(ctx, 'GRAPHQL_VALIDATION_FAILED');
      };
    },
    onExecute({ args, executeFn, setExecuteFn }) {
      if (!tracingEnabled()) return;
      const { span, spanContext } = startOperationSpan(args.contextValue as object, args.document, args.operationName);
      setExecuteFn(async (executeArgs) => {
        try {
          return await context.with(spanContext, () => executeFn(executeArgs));
        } catch (error) {
          markFailed(span, error);
          span.end();
          throw error;
        }
      });
      return {
        onExecuteDone({ result }) {
          // Incremental delivery (@defer/@stream) is not enabled here: a result is always one ExecutionResult.
          if (!isAsyncIterable(result)) endWith(span, result);
        },
      };
    },
    onSubscribe({ args, subscribeFn, setSubscribeFn }) {
      if (!tracingEnabled()) return;
      const { span, spanContext } = startOperationSpan(args.contextValue as object, args.document, args.operationName);
      setSubscribeFn((subscribeArgs) => context.with(spanContext, () => subscribeFn(subscribeArgs)));
      return {
        onSubscribeResult({ result, setResult }) {
          if (isAsyncIterable(result)) setResult(new TracedStream(result, span, spanContext));
          else endWith(span, result);
        },
      };
    },
  };
}

function startOperationSpan(ctx: object, document: DocumentNode, operationName?: string | null) {
  const operation = getOperationAST(document, operationName);
  const attributes: Attributes = operation ? { 'graphql.operation.type': operation.operation } : {};
  const name = operation?.name?.value ?? operationName ?? undefined;
  if (name) attributes['graphql.operation.name'] = name;
  const parent = remoteContext(headersOf(ctx));
  const span = tracer().startSpan(
    operation?.operation ?? FALLBACK_NAME,
    { kind: SpanKind.SERVER, attributes, startTime: takeStart(ctx) },
    parent,
  );
  recordRequestSpan(span.spanContext());
  return { span, spanContext: trace.setSpan(parent, span) };
}

/** A parse or validation failure: there is no operation type to name the span after. */
function failedOperation(ctx: object, errorType: string): void {
  const span = tracer().startSpan(
    FALLBACK_NAME,
    { kind: SpanKind.SERVER, attributes: { 'error.type': errorType }, startTime: takeStart(ctx) },
    remoteContext(headersOf(ctx)),
  );
  span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
  recordRequestSpan(span.spanContext());
}

function headersOf(ctx: object) {
  const { request, req } = ctx as TracedContext;
  return request?.headers ?? req?.headers;
}

function endWith(span: Span, result: ExecutionResult): void {
  markErrors(span, result);
  span.end();
}

/** GraphQL errors in a result make the operation failed; `error.type` is the first error's code. */
function markErrors(span: Span, result: ExecutionResult): void {
  const first = result.errors?.[0];
  if (!first) return;
  const code = first.extensions?.code;
  span.setAttribute('error.type', typeof code === 'string' ? code : 'GraphQLError');
  span.setStatus({ code: SpanStatusCode.ERROR });
}

/**
 * The subscription's event stream, each step run inside the operation's span (the transport pulls events from its
 * own async context), each event recorded on the span, and the span ended with the stream however it ends.
 * A class for the reason of MeasuredStream in metrics-route.ts: a subscriber holds one for hours, and a pending
 * `next()` here costs one promise and its two callbacks, not an async function frame.
 */
class TracedStream implements AsyncIterableIterator<ExecutionResult> {
  readonly #source: AsyncIterator<ExecutionResult>;
  readonly #span: Span;
  readonly #context: Context;
  #ended = false;

  constructor(source: AsyncIterable<ExecutionResult>, span: Span, spanContext: Context) {
    this.#source = source[Symbol.asyncIterator]();
    this.#span = span;
    this.#context = spanContext;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    return context.with(this.#context, () => this.#source.next()).then(
      (step) => {
        if (step.done) this.#end();
        else {
          const errors = step.value.errors?.length;
          this.#span.addEvent('frames.subscription.push', errors ? { 'frames.graphql.error_count': errors } : {});
          markErrors(this.#span, step.value);
        }
        return step;
      },
      (error: unknown) => {
        this.#end(error);
        throw error;
      },
    );
  }

  async return(value?: unknown): Promise<IteratorResult<ExecutionResult>> {
    this.#end();
    return this.#source.return ? this.#source.return(value) : { done: true, value: undefined };
  }

  async throw(error?: unknown): Promise<IteratorResult<ExecutionResult>> {
    this.#end(error);
    if (this.#source.throw) return this.#source.throw(error);
    throw error;
  }

  #end(error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    if (error !== undefined) markFailed(this.#span, error);
    this.#span.end();
  }
}

function isAsyncIterable<T>(value: unknown): value is AsyncIterable<T> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}
