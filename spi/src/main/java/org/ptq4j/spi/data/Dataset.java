package org.ptq4j.spi.data;

/**
 * A finite, index-addressable dataset. {@link #get} must be thread-safe and cheap to call on any
 * index in any order: the host reads index ranges in parallel and may shard them across
 * threads or machines. Open resources are released by {@link #close}.
 */
public interface Dataset extends AutoCloseable {
    int size();

    /** The sample at {@code index} (0 <= index < size). Errors name the item (file, row). */
    Sample get(int index);

    /** Whether samples carry annotations (labels). */
    default boolean annotated() { return false; }

    @Override
    default void close() {}
}
