package org.ptq4j.spi.stats;

/** A per-tensor value range [min, max]. */
public record Range(float min, float max) implements java.io.Serializable {}
