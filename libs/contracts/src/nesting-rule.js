"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.planNesting = planNesting;
exports.nestStream = nestStream;
const data_record_1 = require("./data-record");
function planNesting(records, tail) {
    const sorted = [...records].sort((a, b) => a.seq - b.seq);
    const appendToTail = [];
    const newDocuments = [];
    const duplicates = [];
    let current = tail;
    let open;
    for (const record of sorted) {
        if (current !== undefined && record.seq <= current.lastSeq) {
            duplicates.push(record);
            continue;
        }
        const nests = current !== undefined && (0, data_record_1.isHighHash)(record.hashValue) && (0, data_record_1.isHighHash)(current.lastHash);
        let headSeq;
        if (!nests || current === undefined) {
            open = { ...record, nestedRecords: [] };
            newDocuments.push(open);
            headSeq = record.seq;
        }
        else if (open !== undefined) {
            open.nestedRecords.push(record);
            headSeq = open.seq;
        }
        else {
            appendToTail.push(record);
            headSeq = current.headSeq;
        }
        current = { lastSeq: record.seq, lastHash: record.hashValue, headSeq };
    }
    return { appendToTail, newDocuments, duplicates, tail: current };
}
function nestStream(records) {
    return planNesting(records, undefined).newDocuments;
}
//# sourceMappingURL=nesting-rule.js.map