"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.MAX_TIMESTAMP = exports.MAX_RANDOM_VALUE = exports.MIN_RANDOM_VALUE = exports.SOURCE_PATTERN = exports.RECORD_FIELDS = void 0;
exports.computeHash = computeHash;
exports.isHighHash = isHighHash;
exports.recordKey = recordKey;
const node_crypto_1 = require("node:crypto");
exports.RECORD_FIELDS = ['source', 'seq', 'timestamp', 'randomValue', 'hashValue'];
exports.SOURCE_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
exports.MIN_RANDOM_VALUE = 0;
exports.MAX_RANDOM_VALUE = 100;
exports.MAX_TIMESTAMP = 253_402_300_799_999;
function computeHash(timestamp, randomValue) {
    const digest = (0, node_crypto_1.createHash)('md5').update(`${timestamp}${randomValue}`).digest();
    const last = digest[digest.length - 1];
    return last.toString(16).padStart(2, '0');
}
function isHighHash(hashValue) {
    return hashValue > '99';
}
function recordKey(record) {
    return `${record.source}:${record.seq}`;
}
//# sourceMappingURL=data-record.js.map