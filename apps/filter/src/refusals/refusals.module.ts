import { Module } from '@nestjs/common';
import { RefusalLog } from './refusal-log';

/** The filter's one refusal log (see RefusalLog). */
@Module({ providers: [RefusalLog], exports: [RefusalLog] })
export class RefusalsModule {}
