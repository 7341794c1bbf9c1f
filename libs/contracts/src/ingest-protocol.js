"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.ERROR_EVENT = exports.ACK_EVENT = exports.RECORDS_EVENT = exports.WS_CLOSE_TRY_AGAIN_LATER = exports.WS_CLOSE_MESSAGE_TOO_BIG = exports.WS_CLOSE_POLICY_VIOLATION = exports.WS_CLOSE_UNSUPPORTED_DATA = exports.WS_CLOSE_GOING_AWAY = exports.WS_CLOSE_NORMAL = exports.MAX_FRAME_BYTES = exports.MAX_RECORDS_PER_FRAME = exports.INGEST_PATH = void 0;
exports.INGEST_PATH = '/ingest';
exports.MAX_RECORDS_PER_FRAME = 1000;
exports.MAX_FRAME_BYTES = 1024 * 1024;
exports.WS_CLOSE_NORMAL = 1000;
exports.WS_CLOSE_GOING_AWAY = 1001;
exports.WS_CLOSE_UNSUPPORTED_DATA = 1003;
exports.WS_CLOSE_POLICY_VIOLATION = 1008;
exports.WS_CLOSE_MESSAGE_TOO_BIG = 1009;
exports.WS_CLOSE_TRY_AGAIN_LATER = 1013;
exports.RECORDS_EVENT = 'records';
exports.ACK_EVENT = 'ack';
exports.ERROR_EVENT = 'error';
//# sourceMappingURL=ingest-protocol.js.map