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

    /**
     * The outcome of loading: the registry, the plugins, the failures, and warnings about plugins
     * that loaded but look wrong (e.g. no extensions). Close to unload plugins.
     */
    public record Result(Registry registry, List<PluginInfo> plugins, List<Failure> failures, PluginManager manager, List<String> warnings)
            implements AutoCloseable {
        public Result {
            warnings = warnings == null ? List.of() : List.copyOf(warnings);
        }

        public Result(Registry registry, List<PluginInfo> plugins, List<Failure> failures, PluginManager manager) {
            this(registry, plugins, failures, manager, List.of());
        }

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
        pm.setSystemVersion(systemVersion());
        List<String> warnings = new ArrayList<>();
        // read every descriptor first: a plugin whose required plugins are missing is dropped before
        // loading (pf4j would otherwise fail every later load while resolving dependencies)
        Map<String, PluginDescriptor> descriptors = new LinkedHashMap<>();
        Map<String, Path> paths = new LinkedHashMap<>();
        for (Path p : folders.isEmpty() ? List.<Path>of() : pm.pluginPaths()) {
            if (p.getFileName().toString().startsWith(".")) continue;
            try {
                PluginDescriptor d = pm.descriptor(p);
                String problem = descriptorProblem(d, p);
                if (problem != null) {
                    failures.add(new Failure(p.getFileName().toString(), p, problem));
                    continue;
                }
                String requires = requiresProblem(pm, d);
                if (requires != null) {
                    failures.add(new Failure(d.getPluginId(), p, requires));
                    continue;
                }
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
        // plugin dependencies: installed, in the declared version range, and loaded before their dependents
        boolean changed = true;
        while (changed) {
            changed = false;
            for (PluginDescriptor d : List.copyOf(descriptors.values())) {
                String problem = dependencyProblem(pm, d, descriptors, paths.keySet());
                if (problem == null) continue;
                failures.add(new Failure(d.getPluginId(), paths.get(d.getPluginId()), problem));
                descriptors.remove(d.getPluginId());
                changed = true;
                break;
            }
        }
        for (String id : loadOrder(descriptors, failures, paths)) {
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
                if (names.isEmpty()) warnings.add(noExtensions(id, w.getPluginPath()));
                infos.add(new PluginInfo(id, d.getVersion(), d.getProvider(), d.getPluginDescription(), w.getPluginPath(), names));
            }
        }
        return new Result(registry, infos, failures, pm, warnings);
    }

    /**
     * The host's version as pf4j's system version, which {@code Plugin-Requires} is checked
     * against: the release part of the ptq version ({@code 0.1.0} for {@code 0.1.0-SNAPSHOT}), so
     * that {@code >=0.1.0} accepts a snapshot build of 0.1.0.
     */
    public static String systemVersion() {
        String v = HostVersion.get();
        int dash = v.indexOf('-');
        String release = dash < 0 ? v : v.substring(0, dash);
        return release.matches("\\d+\\.\\d+\\.\\d+") ? release : "0.0.0";
    }

    /** Why a descriptor cannot be loaded (no id, no version), or null. */
    private static String descriptorProblem(PluginDescriptor d, Path p) {
        boolean zip = !p.toString().endsWith(".jar");
        if (d == null || d.getPluginId() == null || d.getPluginId().isBlank())
            return "no plugin id: " + (zip ? "plugin.properties needs 'plugin.id'" : "the jar's manifest needs a 'Plugin-Id' entry");
        if (d.getVersion() == null || d.getVersion().isBlank())
            return "no plugin version: " + (zip ? "plugin.properties needs 'plugin.version'" : "the jar's manifest needs a 'Plugin-Version' entry");
        return null;
    }

    /** Why the plugin's {@code Plugin-Requires} rejects this ptq, or null (pf4j's rules: a bare x.y.z means >=x.y.z). */
    private static String requiresProblem(PluginManager pm, PluginDescriptor d) {
        String req = d.getRequires() == null ? "" : d.getRequires().trim();
        if (req.isEmpty() || req.equals("*")) return null;
        String constraint = req.matches("^\\d+\\.\\d+\\.\\d+$") ? ">=" + req : req;
        String system = pm.getSystemVersion();
        try {
            if (pm.getVersionManager().checkVersionConstraint(system, constraint)) return null;
        } catch (RuntimeException e) {
            return "Plugin-Requires '" + req + "' is not a version range such as '>=0.1.0' (" + e.getMessage() + ")";
        }
        return "requires ptq " + constraint + " (Plugin-Requires), but this is ptq " + system;
    }

    /** Why a plugin's dependencies are not satisfied by {@code installed}, or null. */
    private static String dependencyProblem(PluginManager pm, PluginDescriptor d, Map<String, PluginDescriptor> installed, Set<String> found) {
        for (PluginDependency dep : d.getDependencies()) {
            PluginDescriptor there = installed.get(dep.getPluginId());
            if (there == null) {
                if (dep.isOptional()) continue;
                return "requires plugin '" + dep.getPluginId() + "', which " + (found.contains(dep.getPluginId()) ? "did not load" : "is not installed");
            }
            String range = dep.getPluginVersionSupport();
            if (range == null || range.isBlank() || range.equals("*")) continue;
            boolean ok;
            try {
                ok = pm.getVersionManager().checkVersionConstraint(there.getVersion(), range);
            } catch (RuntimeException e) {
                return "Plugin-Dependencies: '" + dep.getPluginId() + "@" + range + "' is not a version range (" + e.getMessage() + ")";
            }
            if (!ok) return "requires plugin '" + dep.getPluginId() + "' " + range + ", but version " + there.getVersion() + " is installed";
        }
        return null;
    }

    /** Ids in an order where every plugin comes after the plugins it depends on; a cycle is a failure of its members. */
    private static List<String> loadOrder(Map<String, PluginDescriptor> descriptors, List<Failure> failures, Map<String, Path> paths) {
        List<String> order = new ArrayList<>();
        Set<String> done = new LinkedHashSet<>(), visiting = new LinkedHashSet<>(), cyclic = new LinkedHashSet<>();
        for (String id : descriptors.keySet()) visit(id, descriptors, done, visiting, cyclic, order);
        for (String id : cyclic) failures.add(new Failure(id, paths.get(id), "plugin dependencies form a cycle: " + String.join(" -> ", cyclic)));
        order.removeAll(cyclic);
        return order;
    }

    private static void visit(String id, Map<String, PluginDescriptor> ds, Set<String> done, Set<String> visiting, Set<String> cyclic, List<String> order) {
        if (done.contains(id) || !ds.containsKey(id)) return;
        if (!visiting.add(id)) { cyclic.addAll(visiting); return; }
        for (PluginDependency dep : ds.get(id).getDependencies()) visit(dep.getPluginId(), ds, done, visiting, cyclic, order);
        visiting.remove(id);
        done.add(id);
        order.add(id);
    }

    private static String noExtensions(String id, Path path) {
        boolean index = false;
        if (path != null && Files.isRegularFile(path) && path.toString().endsWith(".jar")) {
            try (JarFile j = new JarFile(path.toFile())) {
                index = j.getEntry("META-INF/extensions.idx") != null;
            } catch (IOException ignored) {
                // reported as no index
            }
        } else if (path != null && Files.isDirectory(path)) {
            index = Files.isRegularFile(path.resolve("classes/META-INF/extensions.idx")) || Files.isRegularFile(path.resolve("META-INF/extensions.idx"));
        }
        return "plugin '" + id + "' (" + path + ") provides no algorithm, dataset or metric: " + (index
                ? "its META-INF/extensions.idx lists none of them (are the classes marked @Extension and do they implement Algorithm, DatasetFactory or MetricFactory?)"
                : "it has no META-INF/extensions.idx (pf4j's annotation processor did not run: add pf4j to the compiler's annotationProcessorPaths)");
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
