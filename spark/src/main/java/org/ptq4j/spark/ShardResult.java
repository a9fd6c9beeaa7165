package org.ptq4j.spark;

import java.io.Serializable;

/**
 * What a shard returns: the serialized metric accumulator (evaluation) or list of collectors
 * (statistics), and the per-sample metric values. Never tensors.
 */
record ShardResult(int part, byte[] state, double[] perSample, int samples) implements Serializable {}
