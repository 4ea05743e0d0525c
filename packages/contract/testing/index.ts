/**
 * Test support shared by the services' tests: the conformance corpus and generators of events at the contract's
 * edges. Not part of the services' images (their Dockerfiles copy src/ only).
 */
export { dataBytes, httpRequest, loadCorpus, MODES, rawKafkaRecord, type CorpusEvent, type HttpRequest, type InvalidCorpusEvent, type Mode } from "./corpus.js";
export { edgeEvent, edgeTime } from "./arbitraries.js";
