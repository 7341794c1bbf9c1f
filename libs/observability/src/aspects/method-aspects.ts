import type { AspectSite, MethodAspect, Proceed } from './method-aspect';

interface Declared {
  readonly aspect: MethodAspect;
  readonly meta: unknown;
}

/**
 * The one reader of aspect metadata. Libraries register their aspects here when their module is
 * created (before any module initialises); the explorer and the interceptor ask it for the chain
 * of a method.
 */
export class MethodAspects {
  private readonly aspects: MethodAspect[] = [];

  register<Meta>(aspect: MethodAspect<Meta>): void {
    if (this.aspects.some((known) => known.key === aspect.key)) {
      throw new Error(`an aspect for ${aspect.key.description ?? 'this key'} is registered twice`);
    }
    this.aspects.push(aspect);
    this.aspects.sort((a, b) => a.order - b.order);
  }

  /** The aspects `method` declares, outermost first (empty when none). */
  declaredOn(method: object): readonly Declared[] {
    const found: Declared[] = [];
    for (const aspect of this.aspects) {
      const meta: unknown = Reflect.getMetadata(aspect.key, method);
      if (meta !== undefined) found.push({ aspect, meta });
    }
    return found;
  }

  /** Lets each aspect check its declaration and show its metrics (once per method, at start-up). */
  declare(declared: readonly Declared[], site: AspectSite): void {
    for (const { aspect, meta } of declared) aspect.declare?.(meta, site);
  }

  /** `inner` with the declared aspects around it, the first outermost. */
  chain(declared: readonly Declared[], site: AspectSite, inner: Proceed): Proceed {
    let call = inner;
    for (let i = declared.length - 1; i >= 0; i--) {
      const { aspect, meta } = declared[i] as Declared;
      call = aspect.around(meta, call, site);
    }
    return call;
  }
}
