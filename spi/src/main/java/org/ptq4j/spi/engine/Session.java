package org.ptq4j.spi.engine;

import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.tensor.Tensor;

import java.util.Collection;
import java.util.List;
import java.util.Map;

/** An open model, ready to run. Owns native resources: close it. Not thread-safe unless stated by the engine. */
public interface Session extends AutoCloseable {
    List<ValueInfo> inputs();

    /** Outputs, the extra (intermediate) outputs requested at open time included. */
    List<ValueInfo> outputs();

    /** Runs on {@code feeds} and returns every output. Returned tensors are on the heap (owned by the caller). */
    Map<String, Tensor> run(Map<String, Tensor> feeds);

    /** Runs and returns only {@code outputs}. */
    Map<String, Tensor> run(Map<String, Tensor> feeds, Collection<String> outputs);

    @Override
    void close();
}
