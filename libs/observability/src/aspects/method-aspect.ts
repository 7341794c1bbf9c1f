/**
 * Cross-cutting concerns of a method (its resilience policy, its metrics, its trace span) are
 * declared on it with a decorator that only records metadata, and applied by one reader,
 * {@link MethodAspects}: wrapped once at start-up for providers (AspectExplorer) and around each
 * call for WebSocket, message and HTTP handlers (AspectInterceptor). No decorator wraps anything
 * where the class is defined, so a method means the same in a unit test as in the running app,
 * and every concern is applied in one fixed order (see {@link AspectOrder}).
 */

/** The next step inward of a call: the remaining aspects, then the method itself. */
export type Proceed = (args: unknown[]) => Promise<unknown>;

/** Where an aspect applies: named in metrics, logs and start-up errors. */
export interface AspectSite {
  readonly className: string;
  readonly methodName: string;
}

/** One concern, applied to every method that declares it under {@link key}. */
export interface MethodAspect<Meta = unknown> {
  /** The metadata key its decorator writes. */
  readonly key: symbol;
  /** Position in the chain of a call: lower is further out (see {@link AspectOrder}). */
  readonly order: number;
  /** Once per declaring method, at start-up: check the declaration, show its metrics at 0. */
  declare?(meta: Meta, site: AspectSite): void;
  /** The call with this concern around `proceed`. */
  around(meta: Meta, proceed: Proceed, site: AspectSite): Proceed;
}

/**
 * The chain of a call, outermost first: the span covers everything done for the call; the call is
 * counted once, whatever its retries; the policy retries and times out attempts; each attempt is
 * timed on its own (a sink write's duration is one attempt's).
 */
export const AspectOrder = {
  traced: 10,
  counted: 20,
  resilient: 30,
  timed: 40,
} as const;

/**
 * An async method: the only kind an aspect decorator accepts, so applying one can never change a
 * method's signature (a synchronous method under a decorator is a compile error, not a method that
 * suddenly returns a promise).
 */
export type AsyncMethod<Args extends unknown[] = never[]> = (...args: Args) => Promise<unknown>;

/**
 * A method decorator that accepts async methods whose parameters start with `Args` (an option that
 * reads the first arguments, or none, need not name the rest).
 */
export type AspectDecorator<Args extends unknown[] = never[]> = <M extends AsyncMethod<[...Args, ...never[]]>>(
  target: object,
  key: string | symbol,
  descriptor: TypedPropertyDescriptor<M>,
) => void;

/** The decorator that records `meta` under `key` on the method (nothing else). */
export function declareAspect<Meta, Args extends unknown[] = never[]>(key: symbol, meta: Meta): AspectDecorator<Args> {
  return (_target, name, descriptor) => {
    const method = descriptor.value;
    if (typeof method !== 'function') throw new TypeError(`${String(name)}: aspect decorators apply to methods only`);
    if (Reflect.hasOwnMetadata(key, method)) {
      throw new TypeError(`${String(name)}: ${key.description ?? 'an aspect'} is declared twice`);
    }
    Reflect.defineMetadata(key, meta, method);
  };
}
