"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.validateRecord = validateRecord;
const data_record_1 = require("./data-record");
const FIELD_COUNT = data_record_1.RECORD_FIELDS.length;
function isObject(value) {
    return typeof value === 'object' && value !== null && !Array.isArray(value);
}
function isInteger(value) {
    return typeof value === 'number' && Number.isSafeInteger(value);
}
function validateRecord(value) {
    if (!isObject(value)) {
        return reject('INVALID_RECORD', 'record.not_object', 'record must be a JSON object');
    }
    const source = typeof value.source === 'string' && data_record_1.SOURCE_PATTERN.test(value.source) ? value.source : undefined;
    const seq = isInteger(value.seq) && value.seq >= 1 ? value.seq : undefined;
    const ids = { source, seq };
    const keys = Object.keys(value);
    for (const key of keys) {
        if (!data_record_1.RECORD_FIELDS.includes(key)) {
            return reject('INVALID_RECORD', 'record.extra_field', `unexpected field "${truncate(key)}"`, ids);
        }
    }
    if (keys.length !== FIELD_COUNT) {
        const missing = data_record_1.RECORD_FIELDS.find((field) => !(field in value)) ?? 'unknown';
        return reject('INVALID_RECORD', `${missing}.missing`, `field "${missing}" is missing`, ids);
    }
    if (typeof value.source !== 'string') {
        return reject('INVALID_RECORD', 'source.not_string', 'source must be a string', ids);
    }
    if (source === undefined) {
        return reject('INVALID_RECORD', 'source.pattern', 'source must match ^[A-Za-z0-9._-]{1,64}$', ids);
    }
    if (!isInteger(value.seq)) {
        return reject('INVALID_RECORD', 'seq.not_integer', 'seq must be a safe integer', ids);
    }
    if (seq === undefined) {
        return reject('INVALID_RECORD', 'seq.range', 'seq must be >= 1', ids);
    }
    if (!isInteger(value.timestamp)) {
        return reject('INVALID_RECORD', 'timestamp.not_integer', 'timestamp must be an integer (ms since epoch)', ids);
    }
    if (value.timestamp < 0 || value.timestamp > data_record_1.MAX_TIMESTAMP) {
        return reject('INVALID_RECORD', 'timestamp.range', 'timestamp must be between 0 and 9999-12-31T23:59:59.999Z', ids);
    }
    if (!isInteger(value.randomValue)) {
        return reject('INVALID_RECORD', 'randomValue.not_integer', 'randomValue must be an integer', ids);
    }
    if (value.randomValue < data_record_1.MIN_RANDOM_VALUE || value.randomValue > data_record_1.MAX_RANDOM_VALUE) {
        return reject('INVALID_RECORD', 'randomValue.range', 'randomValue must be between 0 and 100', ids);
    }
    if (typeof value.hashValue !== 'string' || !/^[0-9a-f]{2}$/.test(value.hashValue)) {
        return reject('INVALID_RECORD', 'hashValue.format', 'hashValue must be two lowercase hex characters', ids);
    }
    if ((0, data_record_1.computeHash)(value.timestamp, value.randomValue) !== value.hashValue) {
        return reject('HASH_MISMATCH', 'hashValue.mismatch', 'hashValue does not match MD5(timestamp + randomValue)', ids);
    }
    return {
        ok: true,
        record: {
            source,
            seq,
            timestamp: value.timestamp,
            randomValue: value.randomValue,
            hashValue: value.hashValue,
        },
    };
}
function reject(code, reason, message, ids = {}) {
    return { ok: false, code, reason, message, ...definedOnly(ids) };
}
function definedOnly(ids) {
    const out = {};
    if (ids.source !== undefined)
        out.source = ids.source;
    if (ids.seq !== undefined)
        out.seq = ids.seq;
    return out;
}
function truncate(text) {
    return text.length > 32 ? `${text.slice(0, 32)}…` : text;
}
//# sourceMappingURL=record-validation.js.map