"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.DEAD_LETTER_QUEUE_ARGUMENTS = exports.RECORD_QUEUES = exports.DEAD_LETTER_QUEUE_HEADER = exports.DEAD_LETTER_REASON_HEADER = exports.DELIVERY_LIMIT = exports.RECORDS_PATTERN = exports.MONGO_DLQ = exports.POSTGRES_DLQ = exports.MONGO_QUEUE = exports.POSTGRES_QUEUE = exports.DEAD_LETTER_EXCHANGE = exports.RECORDS_EXCHANGE = void 0;
exports.queueDeclaration = queueDeclaration;
exports.RECORDS_EXCHANGE = 'dataflow.records';
exports.DEAD_LETTER_EXCHANGE = 'dataflow.records.dlx';
exports.POSTGRES_QUEUE = 'dataflow.records.postgres';
exports.MONGO_QUEUE = 'dataflow.records.mongo';
exports.POSTGRES_DLQ = 'dataflow.records.postgres.dlq';
exports.MONGO_DLQ = 'dataflow.records.mongo.dlq';
exports.RECORDS_PATTERN = 'records.high';
exports.DELIVERY_LIMIT = 20;
exports.DEAD_LETTER_REASON_HEADER = 'x-dataflow-reason';
exports.DEAD_LETTER_QUEUE_HEADER = 'x-dataflow-queue';
function recordQueue(queue, deadLetterQueue, extra) {
    return {
        queue,
        deadLetterQueue,
        arguments: {
            'x-queue-type': 'quorum',
            'x-delivery-limit': exports.DELIVERY_LIMIT,
            'x-dead-letter-exchange': exports.DEAD_LETTER_EXCHANGE,
            'x-dead-letter-routing-key': deadLetterQueue,
            'x-dead-letter-strategy': 'at-least-once',
            'x-overflow': 'reject-publish',
            ...extra,
        },
    };
}
exports.RECORD_QUEUES = [
    recordQueue(exports.POSTGRES_QUEUE, exports.POSTGRES_DLQ, {}),
    recordQueue(exports.MONGO_QUEUE, exports.MONGO_DLQ, { 'x-single-active-consumer': true }),
];
exports.DEAD_LETTER_QUEUE_ARGUMENTS = {
    'x-queue-type': 'quorum',
};
function queueDeclaration(queue) {
    const found = exports.RECORD_QUEUES.find((q) => q.queue === queue);
    if (!found)
        throw new Error(`unknown record queue ${queue}`);
    return found;
}
//# sourceMappingURL=rabbitmq-topology.js.map