package org.ptq4j.spi.stats;

import org.ptq4j.spi.tensor.Tensor;

import java.io.Serializable;

/**
 * A mergeable accumulator of one statistic of one tensor. The host feeds it every batch of the
 * tensor's values ({@code [N, ...]}, N samples); partial collectors built on separate shards
 * (threads, machines) are combined with {@link #merge}. Implementations keep bounded state.
 */
public interface Collector extends Serializable {
    /** Adds a batch of values; axis 0 is the sample axis. */
    void update(Tensor batch);

    /** Folds another collector of the same spec into this one. */
    void merge(Collector other);

    /** The statistic; its type is documented by the spec that made this collector. */
    Object result();
}
