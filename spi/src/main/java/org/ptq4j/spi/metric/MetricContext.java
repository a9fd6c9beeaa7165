package org.ptq4j.spi.metric;

import org.ptq4j.spi.model.ValueInfo;

import java.nio.file.Path;
import java.util.List;

/** What a metric factory may know: the outputs of the model it will judge, and the base folder. */
public interface MetricContext {
    List<ValueInfo> modelOutputs();

    Path baseDir();
}
