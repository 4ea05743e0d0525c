/**
 * The ingest service below its Kafka client: record batches encoded in place and sent as Produce requests on the
 * client's connections (README.md lists what this relies on and the tests that pin it). Everything outside this
 * folder imports from here.
 */
export { IdempotentSender, nextSequence, type IdempotentSenderOptions } from "./idempotent-sender.js";
export { chooseProduceVersion, produceRequest, sendProduce, PRODUCE_API_KEY, type PartitionBatch } from "./produce-request.js";
export { BATCH, encodeRecordBatch, writeVarInt, type BatchIdentity } from "./record-batch.js";
