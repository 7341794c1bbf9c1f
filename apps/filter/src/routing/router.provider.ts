import type { Provider } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { FilterConfig } from '../config/filter.config';
import { RecordRouter, ThresholdRouter } from './record-router';

export const RECORD_ROUTER = Symbol('RECORD_ROUTER');

export const recordRouterProvider: Provider<RecordRouter> = {
  provide: RECORD_ROUTER,
  inject: [ConfigService],
  useFactory: (config: ConfigService<FilterConfig, true>) =>
    new ThresholdRouter(config.get('FILTER_THRESHOLD', { infer: true })),
};
