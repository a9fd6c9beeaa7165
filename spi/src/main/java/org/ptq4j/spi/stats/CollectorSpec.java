package org.ptq4j.spi.stats;

import java.io.Serializable;

/**
 * Describes a statistic and makes empty collectors for it. Specs are values (records): two equal
 * specs on the same tensor are collected once for the whole pipeline.
 */
public interface CollectorSpec extends Serializable {
    Collector create();
}
