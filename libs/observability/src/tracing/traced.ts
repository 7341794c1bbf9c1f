import { context, SpanStatusCode, type Context, type SpanKind } from '@opentelemetry/api';
import { AspectOrder, declareAspect, type AspectDecorator, type MethodAspect } from '../aspects/method-aspect';
import { contextWith, linkTo, startSpan } from './tracing';

export interface TracedOptions<Args extends unknown[]> {
  readonly kind?: SpanKind;
  /** The parent span's context, from the call's arguments (default: the active context). */
  readonly parent?: (...args: Args) => Context | undefined;
  /** Contexts of further work the call merges (a batch): linked from the span. */
  readonly links?: (...args: Args) => readonly Context[];
}

interface TracedMeta {
  readonly name: string;
  readonly options: TracedOptions<unknown[]>;
}

const TRACED = Symbol('@Traced');

/**
 * The call runs in a span of its own, started before the method and ended when its promise
 * settles (with an error status if it rejects): the only way spans are made in the apps, so a
 * span always starts and ends in one place. The method may annotate it (`trace.getActiveSpan()`)
 * and everything it does, its log lines included, carries its trace context.
 */
export function Traced<Args extends unknown[] = never[]>(
  name: string,
  options: TracedOptions<Args> = {},
): AspectDecorator<Args> {
  return declareAspect<TracedMeta, Args>(TRACED, { name, options: options as TracedOptions<unknown[]> });
}

export const tracedAspect: MethodAspect<TracedMeta> = {
  key: TRACED,
  order: AspectOrder.traced,
  around:
    ({ name, options }, proceed) =>
    async (args) => {
      const parent = options.parent?.(...args) ?? context.active();
      const links = (options.links?.(...args) ?? []).map(linkTo).filter((link) => link !== undefined);
      const span = startSpan(name, { kind: options.kind, links }, parent);
      try {
        return await context.with(contextWith(span, parent), () => proceed(args));
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
        throw error;
      } finally {
        span.end();
      }
    },
};
