import { Module } from '@nestjs/common';
import { PipelineModule } from '../pipeline/pipeline.module';
import { RefusalsModule } from '../refusals/refusals.module';
import { ConnectionRegistry } from './connection-registry.service';
import { IngestRefusals } from './ingest-refusals.service';
import { IngestGateway } from './ingest.gateway';
import { IngestService } from './ingest.service';

/** `/ingest`: connections, their bounds and refusals, validation, and the hand-over to the pipeline. */
@Module({
  imports: [PipelineModule, RefusalsModule],
  providers: [IngestRefusals, ConnectionRegistry, IngestService, IngestGateway],
  exports: [ConnectionRegistry, IngestRefusals],
})
export class IngestModule {}
