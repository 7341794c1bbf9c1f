import { Module } from '@nestjs/common';
import { OperatorModule } from '../operator/operator.module';
import { RoutingModule } from '../routing/routing.module';
import { SinksModule } from '../sinks/sinks.module';
import { RecordPipeline } from './record-pipeline.service';

/** Valid records of each source, routed and handed to their sinks in order, acknowledged once held. */
@Module({
  imports: [RoutingModule, SinksModule, OperatorModule],
  providers: [RecordPipeline],
  exports: [RecordPipeline],
})
export class PipelineModule {}
