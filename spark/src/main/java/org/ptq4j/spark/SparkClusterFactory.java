package org.ptq4j.spark;

import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.host.run.ClusterFactory;
import org.ptq4j.host.run.PassRunner;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.param.Params;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code cluster: {type: spark, master: "local[*]"}}: connects to Spark (or joins the context
 * {@code spark-submit} started) before any work, so a bad master fails the run before anything
 * is computed or written.
 */
public final class SparkClusterFactory implements ClusterFactory {
    private static final Pattern LOCAL = Pattern.compile("local\\[(\\*|\\d+)]");
    static final int CONNECT_TIMEOUT_MS = 5000;

    @Override public String type() { return "spark"; }

    @Override
    public PassRunner open(Params params, Registry registry, List<Path> pluginDirs) {
        int maxFailures = params.integer("max_failures").orElse(4);
        int partitions = params.integer("partitions").orElse(0);
        Path workDir = params.path("work_dir").orElse(null);
        // under spark-submit, spark.master is its --master
        String master = params.string("master").orElse(System.getProperty("spark.master", "local[*]"));
        SparkConf conf = new SparkConf().setAppName("ptq").setMaster(sparkMaster(master, maxFailures))
                .set("spark.ui.enabled", "false")
                .set("spark.task.maxFailures", Integer.toString(maxFailures));
        if (master.startsWith("local")) conf.set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1");
        Object extra = params.raw("conf");
        if (extra instanceof Map<?, ?> m) m.forEach((k, v) -> conf.set(String.valueOf(k), String.valueOf(v)));
        checkReachable(master);
        try {
            return new SparkPasses(new JavaSparkContext(SparkContext.getOrCreate(conf)), true, registry, pluginDirs, partitions, maxFailures, workDir);
        } catch (Exception e) {
            throw new PtqException("cluster.master: cannot start Spark with master '" + master + "': " + SparkPasses.cause(e), e);
        }
    }

    /** {@code local[N]} retries no task; ptq gives local masters the same {@code max_failures} as a cluster. */
    static String sparkMaster(String master, int maxFailures) {
        Matcher m = LOCAL.matcher(master.trim());
        if (m.matches()) return "local[" + m.group(1) + "," + maxFailures + "]";
        if (master.trim().equals("local")) return "local[1," + maxFailures + "]";
        return master.trim();
    }

    /** A standalone master that does not answer is an error now, not after Spark's minute of registration retries. */
    static void checkReachable(String master) {
        if (!master.startsWith("spark://")) return;
        String problem = null;
        for (String hostPort : master.substring("spark://".length()).split(",")) {   // standby masters: one answering is enough
            String host = hostPort;
            int port = 7077;
            int colon = hostPort.lastIndexOf(':');
            if (colon > 0) {
                host = hostPort.substring(0, colon);
                try { port = Integer.parseInt(hostPort.substring(colon + 1)); } catch (NumberFormatException e) { port = -1; }
            }
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(host, port), CONNECT_TIMEOUT_MS);
                return;
            } catch (IOException | IllegalArgumentException e) {
                problem = host + ":" + port + ": " + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage());
            }
        }
        throw new PtqException("cluster.master: cannot reach the Spark master " + master + " (" + problem + "); nothing was run");
    }
}
