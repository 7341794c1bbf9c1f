import { Injectable, OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';
import { PATH_METADATA } from '@nestjs/common/constants';
import { PATTERN_METADATA } from '@nestjs/microservices/constants';
import { MESSAGE_MAPPING_METADATA } from '@nestjs/websockets/constants';
import type { Proceed } from './method-aspect';
import { MethodAspects } from './method-aspects';

type Method = (...args: unknown[]) => unknown;

/** What marks a method as a handler Nest dispatches: an HTTP route, a message pattern, a WebSocket event. */
const HANDLER_METADATA = [PATH_METADATA, PATTERN_METADATA, MESSAGE_MAPPING_METADATA];

/**
 * Wraps, once at start-up, every method of a provider or controller that declares aspects, on the
 * instance itself: whoever calls it, and however (`this.store(…)`, a callback), gets the concerns.
 * Runs in the first module-init hook (the observability module is global, and Nest initialises
 * global modules first), so no provider's own init calls an unwrapped method.
 *
 * Handlers are left as they are: Nest reads some of them off the instance (message handlers, after
 * this hook) and some off the prototype (WebSocket events, before it), so wrapping them here would
 * apply their aspects twice or not at all. The interceptor applies them on every dispatch instead
 * (see AspectInterceptor); they are declared here all the same, so their metrics show from the start.
 */
@Injectable()
export class AspectExplorer implements OnModuleInit {
  private readonly woven = new WeakSet<object>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly aspects: MethodAspects,
  ) {}

  onModuleInit(): void {
    const wrappers: InstanceWrapper[] = [...this.discovery.getProviders(), ...this.discovery.getControllers()];
    // An alias (`useExisting`) lists the same instance again: each instance is woven once.
    const done = new WeakSet<object>();
    for (const wrapper of wrappers) {
      const instance: unknown = wrapper.instance;
      if (!instance || typeof instance !== 'object' || done.has(instance)) continue;
      done.add(instance);
      this.weave(instance as Record<string, unknown>);
    }
  }

  private weave(instance: Record<string, unknown>): void {
    const prototype = Object.getPrototypeOf(instance) as object;
    const className = instance.constructor.name;
    for (const methodName of this.scanner.getAllMethodNames(prototype)) {
      const method = instance[methodName];
      if (typeof method !== 'function' || this.woven.has(method)) continue;
      const declared = this.aspects.declaredOn(method);
      if (declared.length === 0) continue;
      const site = { className, methodName };
      this.aspects.declare(declared, site);
      if (HANDLER_METADATA.some((key) => Reflect.hasMetadata(key, method))) continue;
      const original = method as Method;
      const inner: Proceed = (args) => original.apply(instance, args) as Promise<unknown>;
      const call = this.aspects.chain(declared, site, inner);
      const wrapped = (...args: unknown[]): Promise<unknown> => call(args);
      Object.defineProperty(wrapped, 'name', { value: original.name });
      this.woven.add(wrapped);
      instance[methodName] = wrapped;
    }
  }
}
