"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.FILE_SINK_SUFFIX = exports.FILE_SINK_PREFIX = void 0;
exports.hourFileName = hourFileName;
exports.isSinkFileName = isSinkFileName;
exports.FILE_SINK_PREFIX = 'records-';
exports.FILE_SINK_SUFFIX = '.ndjson';
function hourFileName(timestamp) {
    return `${exports.FILE_SINK_PREFIX}${new Date(timestamp).toISOString().slice(0, 13)}${exports.FILE_SINK_SUFFIX}`;
}
function isSinkFileName(name) {
    return /^records-\d{4}-\d{2}-\d{2}T\d{2}\.ndjson$/.test(name);
}
//# sourceMappingURL=file-sink-layout.js.map