import { Injectable, OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { PolicyRegistry } from './policy-registry.service';
import { RESILIENT_POLICY } from './resilience.tokens';

type AsyncMethod = (...args: unknown[]) => Promise<unknown>;

/**
 * Finds `@Resilient` methods on providers once at start-up and wraps them with their policy. A
 * method whose last parameter is an AbortSignal gets cancellation: see the wrapper below.
 */
@Injectable()
export class ResilienceExplorer implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly registry: PolicyRegistry,
  ) {}

  onModuleInit(): void {
    for (const wrapper of this.discovery.getProviders()) {
      const instance: unknown = wrapper.instance;
      if (!instance || typeof instance !== 'object') continue;
      const prototype = Object.getPrototypeOf(instance) as object;
      for (const methodName of this.scanner.getAllMethodNames(prototype)) {
        const target = instance as Record<string, unknown>;
        const method = target[methodName];
        if (typeof method !== 'function') continue;
        const policyName = this.reflector.get<string | undefined>(RESILIENT_POLICY, method);
        if (!policyName) continue;
        const policy = this.registry.get(policyName);
        const original = method as AsyncMethod;
        const wrapped: AsyncMethod = (...args) => {
          // A trailing AbortSignal is the caller's: the policy stops retrying once it fires, and each
          // attempt gets the policy's own signal in its place (aborted on a timeout too).
          const signal = args.at(-1);
          if (!(signal instanceof AbortSignal)) return policy.execute(() => original.apply(instance, args));
          const head = args.slice(0, -1);
          return policy.execute((attempt) => original.apply(instance, [...head, attempt]), signal);
        };
        // Keep metadata visible on the wrapper so a second scan would not wrap twice.
        Reflect.defineMetadata(RESILIENT_POLICY, undefined, wrapped);
        target[methodName] = wrapped;
      }
    }
  }
}
