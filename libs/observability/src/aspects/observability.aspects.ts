import { Injectable } from '@nestjs/common';
import { DataflowMetrics } from '../dataflow-metrics';
import { countedAspect, timedAspect } from '../instrumentation';
import { tracedAspect } from '../tracing/traced';
import { MethodAspects } from './method-aspects';

/** Registers the observability library's aspects: `@Traced`, `@Counted`, `@Timed`. */
@Injectable()
export class ObservabilityAspects {
  constructor(aspects: MethodAspects, metrics: DataflowMetrics) {
    aspects.register(tracedAspect);
    aspects.register(countedAspect(metrics));
    aspects.register(timedAspect(metrics));
  }
}
