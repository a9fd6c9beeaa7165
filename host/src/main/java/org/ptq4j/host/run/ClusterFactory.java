package org.ptq4j.host.run;

import org.ptq4j.host.plugins.Registry;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.param.Params;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/**
 * A kind of cluster ({@code cluster.type} in the pipeline YAML), found with {@link ServiceLoader}
 * on the host's class path: optional artifacts such as {@code ptq4j-spark} add one without the core
 * distribution depending on them. Not a pf4j extension: a cluster engine brings its own class path
 * (Spark, Scala) and must see ONNX Runtime and the plugins as the host does.
 */
public interface ClusterFactory {
    String type();

    /**
     * Connects (or fails fast with a {@link PtqException} naming {@code cluster.*}) and returns the
     * runner of data passes.
     *
     * @param params     the {@code cluster} map of the YAML (validated: {@code type}, {@code master}, ...)
     * @param registry   the driver's plugins (executors in this JVM reuse them)
     * @param pluginDirs the plugin folders, for executors in other JVMs
     */
    PassRunner open(Params params, Registry registry, List<Path> pluginDirs);

    /** The installed factory of {@code type}, or an error naming what to install. */
    static ClusterFactory of(String type) {
        List<String> installed = new ArrayList<>();
        for (ClusterFactory f : ServiceLoader.load(ClusterFactory.class, ClusterFactory.class.getClassLoader())) {
            if (f.type().equals(type)) return f;
            installed.add(f.type());
        }
        throw new PtqException("cluster.type: '" + type + "' is not installed" + (installed.isEmpty() ? "" : " (installed: " + String.join(", ", installed) + ")")
                + "; for 'spark' put the ptq-spark extension in <distribution>/ext/spark (see docs/SPARK.md)");
    }
}
