package org.ptq4j.host.plugins;

import org.pf4j.DefaultPluginManager;
import org.pf4j.PluginDependency;
import org.pf4j.PluginDescriptor;
import org.pf4j.PluginManager;
import org.pf4j.PluginState;
import org.pf4j.PluginWrapper;
import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.DatasetFactory;
import org.ptq4j.spi.metric.MetricFactory;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.jar.JarFile;

/**
 * Loads plugins with pf4j from plugin folders (jar and zip plugins) and builds the
 * {@link Registry} from their extensions plus the system extensions on the class path.
 * <p>
 * Plugins are loaded one by one: a plugin that fails (corrupt jar, missing plugin dependency,
 * an extension that cannot be instantiated) is reported in {@link Result#failures()} by id with
 * its cause, and the others still load. Two extensions with the same name are an error naming
 * both providers.
 */
public final class PluginLoader {
    /** Environment variable with extra plugin folders, separated by the path separator (':' on Linux). */
    public static final String ENV = "PTQ_PLUGINS";
    /** System property set by {@code bin/ptq}: the distribution folder, whose {@code plugins/} is searched first. */
    public static final String HOME = "ptq.home";

    private PluginLoader() {}

    /** A plugin that did not load: its id (or file name when unknown), the file, and why. */
    public record Failure(String pluginId, Path path, String cause) {
        @Override public String toString() { return "plugin '" + pluginId + "' (" + path + ") failed to load: " + cause; }
    }

    /** A loaded plugin: id, version, provider, description, where it came from and what it provides. */
    public record PluginInfo(String id, String version, String provider, String description, Path path, List<String> extensions) {}

    /** The outcome of loading: the registry, the plugins, the failures. Close to unload plugins. */
    public record Result(Registry registry, List<PluginInfo> plugins, List<Failure> failures, PluginManager manager) implements AutoCloseable {
        @Override public void close() {
            if (manager != null) manager.unloadPlugins();
        }
    }

    /** Plugin folders: {@code $ptq.home/plugins}, then {@code PTQ_PLUGINS}, then {@code extra} (e.g. {@code --plugins-dir}). */
    public static List<Path> folders(List<Path> extra, Function<String, String> env) {
        Set<Path> dirs = new LinkedHashSet<>();
        String home = System.getProperty(HOME);
        if (home != null && !home.isBlank()) dirs.add(Path.of(home, "plugins"));
        String e = env.apply(ENV);
        if (e != null) for (String p : e.split(File.pathSeparator)) if (!p.isBlank()) dirs.add(Path.of(p.trim()));
        if (extra != null) dirs.addAll(extra);
        List<Path> r = new ArrayList<>();
        for (Path d : dirs) r.add(d.toAbsolutePath().normalize());
        return r;
    }

    /**
     * Loads every plugin in {@code folders} (a folder that does not exist is an error: it was
     * named by the user) and the class path's own extensions.
     */
    public static Result load(List<Path> folders) {
        for (Path d : folders) if (!Files.isDirectory(d)) throw new PtqException((Files.exists(d) ? "plugin folder is not a folder: " : "plugin folder not found: ") + d);
        List<Failure> failures = new ArrayList<>();
        Manager pm = new Manager(folders);
        // read every descriptor first: a plugin whose required plugins are missing is dropped before
        // loading (pf4j would otherwise fail every later load while resolving dependencies)
        Map<String, PluginDescriptor> descriptors = new LinkedHashMap<>();
        Map<String, Path> paths = new LinkedHashMap<>();
        for (Path p : folders.isEmpty() ? List.<Path>of() : pm.pluginPaths()) {
            if (p.getFileName().toString().startsWith(".")) continue;
            try {
                PluginDescriptor d = pm.descriptor(p);
                if (paths.containsKey(d.getPluginId())) {
                    failures.add(new Failure(d.getPluginId(), p, "a plugin with this id is already loaded from " + paths.get(d.getPluginId())));
                    continue;
                }
                descriptors.put(d.getPluginId(), d);
                paths.put(d.getPluginId(), p);
            } catch (RuntimeException | LinkageError e) {
                failures.add(new Failure(idOf(p), p, cause(e)));
            }
        }
        boolean changed = true;
        while (changed) {
            changed = false;
            for (PluginDescriptor d : List.copyOf(descriptors.values())) {
                for (PluginDependency dep : d.getDependencies()) {
                    if (dep.isOptional() || descriptors.containsKey(dep.getPluginId())) continue;
                    failures.add(new Failure(d.getPluginId(), paths.get(d.getPluginId()), "requires plugin '" + dep.getPluginId() + "', which is not installed"));
                    descriptors.remove(d.getPluginId());
                    changed = true;
                    break;
                }
            }
        }
        for (String id : descriptors.keySet()) {
            try {
                pm.loadPlugin(paths.get(id));
            } catch (RuntimeException | LinkageError e) {
                failures.add(new Failure(id, paths.get(id), cause(e)));
                if (pm.getPlugin(id) != null) pm.unloadPlugin(id);
            }
        }
        try {
            pm.startPlugins();
        } catch (RuntimeException e) {
            failures.add(new Failure("?", null, "starting plugins: " + cause(e)));
        }
        for (PluginWrapper w : pm.getPlugins()) {
            if (w.getPluginState() == PluginState.FAILED) {
                failures.add(new Failure(w.getPluginId(), w.getPluginPath(), cause(w.getFailedException())));
            }
        }

        Registry registry = new Registry();
        Map<String, String> owners = new LinkedHashMap<>();   // "algorithm X" -> provider
        List<PluginInfo> infos = new ArrayList<>();
        List<String> sources = new ArrayList<>();
        sources.add(null); // system extensions (class path)
        for (PluginWrapper w : pm.getStartedPlugins()) sources.add(w.getPluginId());
        for (String id : sources) {
            List<String> names = new ArrayList<>();
            String where = id == null ? "system" : id;
            List<Object> exts = new ArrayList<>();
            try {
                for (Algorithm a : create(pm, Algorithm.class, id)) { exts.add(a); names.add("algorithm " + a.name()); }
                for (DatasetFactory d : create(pm, DatasetFactory.class, id)) { exts.add(d); names.add("dataset " + d.type()); }
                for (MetricFactory m : create(pm, MetricFactory.class, id)) { exts.add(m); names.add("metric " + m.type()); }
                for (String n : names) {
                    String prev = owners.putIfAbsent(n, where);
                    if (prev != null) throw new PtqException(n.replaceFirst(" ", " '") + "' is provided twice: by " + label(prev) + " and by " + label(where)
                            + "; remove one of them");
                }
                for (Object x : exts) registry.add(x, where);
            } catch (PtqException e) {
                throw e;
            } catch (RuntimeException | LinkageError e) {
                if (id == null) throw e instanceof PtqException p ? p : new PtqException("class path extensions: " + cause(e), e);
                failures.add(new Failure(id, pm.getPlugin(id).getPluginPath(), cause(e)));
                continue;
            }
            if (id != null) {
                PluginWrapper w = pm.getPlugin(id);
                var d = w.getDescriptor();
                infos.add(new PluginInfo(id, d.getVersion(), d.getProvider(), d.getPluginDescription(), w.getPluginPath(), names));
            }
        }
        return new Result(registry, infos, failures, pm);
    }

    /** The class path's extensions only (no plugin folders). */
    public static Result classpathOnly() { return load(List.of()); }

    /** pf4j's manager, with its repository's plugin paths visible (zips are expanded there). */
    private static final class Manager extends DefaultPluginManager {
        Manager(List<Path> roots) { super(roots); }

        List<Path> pluginPaths() { return pluginRepository.getPluginPaths(); }

        PluginDescriptor descriptor(Path p) { return getPluginDescriptorFinder().find(p); }
    }

    private static String label(String provider) {
        return provider.equals("system") ? "the class path" : "plugin '" + provider + "'";
    }

    private static <T> List<T> create(PluginManager pm, Class<T> type, String pluginId) {
        List<T> r = new ArrayList<>();
        for (Class<? extends T> c : pm.getExtensionClasses(type, pluginId)) r.add(type.cast(pm.getExtensionFactory().create(c)));
        return r;
    }

    private static String idOf(Path p) {
        if (p.toString().endsWith(".jar") && Files.isRegularFile(p)) {
            try (JarFile j = new JarFile(p.toFile())) {
                var m = j.getManifest();
                String id = m == null ? null : m.getMainAttributes().getValue("Plugin-Id");
                if (id != null) return id;
            } catch (IOException ignored) {
                // not a readable jar: fall back to the file name
            }
        }
        return p.getFileName().toString();
    }

    static String cause(Throwable e) {
        if (e == null) return "unknown cause";
        Throwable root = e;
        StringBuilder sb = new StringBuilder(e.getClass().getSimpleName() + ": " + e.getMessage());
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
            sb.append(" <- ").append(root.getClass().getSimpleName()).append(": ").append(root.getMessage());
        }
        return sb.toString();
    }
}
