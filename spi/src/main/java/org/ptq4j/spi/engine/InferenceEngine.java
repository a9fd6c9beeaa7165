package org.ptq4j.spi.engine;

import org.ptq4j.spi.model.Model;

/**
 * Runs models. The host provides it (ONNX Runtime); a plugin never sees the engine's own types.
 */
public interface InferenceEngine {
    /** Opens a session on a model; close it when done (it owns native memory). */
    Session open(Model model, SessionOptions options);

    default Session open(Model model) { return open(model, SessionOptions.defaults()); }
}
