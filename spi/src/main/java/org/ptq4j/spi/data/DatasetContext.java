package org.ptq4j.spi.data;

import org.ptq4j.spi.model.ValueInfo;

import java.nio.file.Path;
import java.util.List;

/**
 * What a dataset factory may know when opening: the inputs of the model it will feed (names,
 * element types, shapes) and the folder relative paths resolve against.
 */
public interface DatasetContext {
    List<ValueInfo> modelInputs();

    Path baseDir();

    /** Threads the dataset may use for decoding. */
    default int threads() { return Runtime.getRuntime().availableProcessors(); }
}
