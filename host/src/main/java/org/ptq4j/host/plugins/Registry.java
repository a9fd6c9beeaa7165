package org.ptq4j.host.plugins;

import org.pf4j.DefaultPluginManager;
import org.pf4j.PluginManager;
import org.pf4j.PluginWrapper;
import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.DatasetFactory;
import org.ptq4j.spi.metric.MetricFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The installed extensions by name: algorithms, dataset factories ({@code type}) and metric
 * factories ({@code type}), each with the id of the plugin that provides it ("system" for the
 * class path).
 */
public final class Registry {
    private final Map<String, Algorithm> algorithms = new TreeMap<>();
    private final Map<String, DatasetFactory> datasets = new TreeMap<>();
    private final Map<String, MetricFactory> metrics = new TreeMap<>();
    private final Map<Object, String> providers = new IdentityHashMap<>();

    /** Extensions on the class path only (tests, embedded use). */
    public static Registry fromClasspath() {
        Path empty;
        try {
            empty = Files.createTempDirectory("ptq-no-plugins");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        try {
            PluginManager pm = new DefaultPluginManager(empty);
            return fromPluginManager(pm);
        } finally {
            empty.toFile().delete();
        }
    }

    /** Extensions of every started plugin of {@code pm}, plus those on the class path. */
    public static Registry fromPluginManager(PluginManager pm) {
        Registry r = new Registry();
        add(pm, Algorithm.class, r.algorithms, Algorithm::name, "algorithm", r.providers);
        add(pm, DatasetFactory.class, r.datasets, DatasetFactory::type, "dataset type", r.providers);
        add(pm, MetricFactory.class, r.metrics, MetricFactory::type, "metric type", r.providers);
        return r;
    }

    private static <T> void add(PluginManager pm, Class<T> type, Map<String, T> into, Function<T, String> name, String what, Map<Object, String> providers) {
        for (T ext : pm.getExtensions(type)) {
            PluginWrapper plugin = pm.whichPlugin(ext.getClass());
            String provider = plugin == null ? "system" : plugin.getPluginId();
            String n = name.apply(ext);
            T prev = into.get(n);
            if (prev != null) {
                if (prev.getClass().getName().equals(ext.getClass().getName())) continue;
                throw new PtqException(what + " '" + n + "' is provided twice: by plugin '" + providers.get(prev) + "' (" + prev.getClass().getName()
                        + ") and by plugin '" + provider + "' (" + ext.getClass().getName() + "); remove one of the plugins");
            }
            into.put(n, ext);
            providers.put(ext, provider);
        }
    }

    /** Registers an extension by hand (embedding, tests). */
    public Registry add(Object extension, String provider) {
        if (extension instanceof Algorithm a) algorithms.put(a.name(), a);
        if (extension instanceof DatasetFactory d) datasets.put(d.type(), d);
        if (extension instanceof MetricFactory m) metrics.put(m.type(), m);
        providers.put(extension, provider);
        return this;
    }

    public Optional<Algorithm> algorithm(String name) { return Optional.ofNullable(algorithms.get(name)); }
    public Optional<DatasetFactory> dataset(String type) { return Optional.ofNullable(datasets.get(type)); }
    public Optional<MetricFactory> metric(String type) { return Optional.ofNullable(metrics.get(type)); }

    public Map<String, Algorithm> algorithms() { return Collections.unmodifiableMap(algorithms); }
    public Map<String, DatasetFactory> datasets() { return Collections.unmodifiableMap(datasets); }
    public Map<String, MetricFactory> metrics() { return Collections.unmodifiableMap(metrics); }

    /** The id of the plugin providing {@code extension} ("system" for the class path). */
    public String provider(Object extension) { return providers.getOrDefault(extension, "system"); }
}
