package org.ptq4j.host.plugins;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.spi.PtqException;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.junit.jupiter.api.Assertions.*;

/** Real pf4j loading of plugin jars and zips compiled by the test itself. */
class PluginLoaderTest {
    @TempDir Path tmp;

    /** Compiles an Algorithm named {@code algName} in package {@code pkg}; returns the classes folder. */
    Path compile(String pkg, String algName) throws IOException {
        Path src = tmp.resolve("src-" + pkg), classes = tmp.resolve("classes-" + pkg);
        Files.createDirectories(src.resolve(pkg));
        Files.createDirectories(classes);
        Path file = src.resolve(pkg).resolve("Alg.java");
        Files.writeString(file, "package " + pkg + ";\n"
                + "import org.ptq4j.spi.*; import org.ptq4j.spi.model.Model; import org.ptq4j.spi.param.*; import org.ptq4j.spi.stats.Statistics; import java.util.List;\n"
                + "public class Alg implements Algorithm {\n"
                + "  public String name() { return \"" + algName + "\"; }\n"
                + "  public String description() { return \"from " + pkg + "\"; }\n"
                + "  public List<ParamSpec> parameters() { return List.of(ParamSpec.integer(\"level\", 3, \"a level\")); }\n"
                + "  public Model apply(Model m, Params p, Statistics s, PipelineContext c) { return m.copy(); }\n"
                + "}\n");
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        int rc = javac.run(null, null, null, "-proc:none", "-cp", System.getProperty("java.class.path"), "-d", classes.toString(), file.toString());
        assertEquals(0, rc);
        Files.createDirectories(classes.resolve("META-INF"));
        Files.writeString(classes.resolve("META-INF/extensions.idx"), pkg + ".Alg\n");
        return classes;
    }

    Path jar(Path folder, String id, String deps, Path classes) throws IOException {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("Plugin-Id", id);
        m.put("Plugin-Version", "1.2.3");
        m.put("Plugin-Provider", "tests");
        if (deps != null) m.put("Plugin-Dependencies", deps);
        return jar(folder.resolve(id + ".jar"), m, classes);
    }

    /** A jar with exactly these manifest entries. */
    static Path jar(Path jar, Map<String, String> manifest, Path classes) throws IOException {
        Manifest mf = new Manifest();
        Attributes a = mf.getMainAttributes();
        a.put(Attributes.Name.MANIFEST_VERSION, "1.0");
        manifest.forEach(a::putValue);
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar), mf)) {
            add(out, classes);
        }
        return jar;
    }

    private static void add(ZipOutputStream out, Path classes) throws IOException {
        add(out, classes, "");
    }

    private static void add(ZipOutputStream out, Path root, String prefix) throws IOException {
        try (var walk = Files.walk(root)) {
            for (Path p : walk.filter(Files::isRegularFile).toList()) {
                out.putNextEntry(new JarEntry(prefix + root.relativize(p).toString().replace('\\', '/')));
                Files.copy(p, out);
                out.closeEntry();
            }
        }
    }

    @Test
    void loadsJarAndZipPluginsAndReportsBrokenOnesByIdWhileOthersLoad() throws IOException {
        Path plugins = Files.createDirectories(tmp.resolve("plugins"));
        Path extra = Files.createDirectories(tmp.resolve("extra"));
        jar(plugins, "good-plugin", null, compile("good", "GoodAlgorithm"));
        jar(plugins, "needs-missing", "not-installed", compile("dep", "NeedsMissing"));
        Files.write(plugins.resolve("corrupt.jar"), "not a zip".getBytes(StandardCharsets.UTF_8));
        // a zip plugin: plugin.properties + classes/
        Path zipClasses = compile("zipped", "ZippedAlgorithm");
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(extra.resolve("zip-plugin.zip")))) {
            z.putNextEntry(new ZipEntry("plugin.properties"));
            z.write("plugin.id=zip-plugin\nplugin.version=0.9.0\nplugin.provider=tests\n".getBytes(StandardCharsets.UTF_8));
            z.closeEntry();
            add(z, zipClasses, "classes/");
        }
        try (PluginLoader.Result r = PluginLoader.load(List.of(plugins, extra))) {
            assertTrue(r.registry().algorithm("GoodAlgorithm").isPresent());
            assertTrue(r.registry().algorithm("ZippedAlgorithm").isPresent(), r.plugins() + " " + r.failures());
            assertEquals("good-plugin", r.registry().provider(r.registry().algorithm("GoodAlgorithm").get()));
            assertFalse(r.registry().algorithm("NeedsMissing").isPresent());
            var info = r.plugins().stream().filter(p -> p.id().equals("good-plugin")).findFirst().orElseThrow();
            assertEquals("1.2.3", info.version());
            assertEquals(List.of("algorithm GoodAlgorithm"), info.extensions());
            List<String> failures = r.failures().stream().map(PluginLoader.Failure::toString).toList();
            assertEquals(2, failures.size(), failures.toString());
            assertTrue(failures.stream().anyMatch(f -> f.startsWith("plugin 'needs-missing' (" + plugins.resolve("needs-missing.jar") + ") failed to load: requires plugin 'not-installed', which is not installed")), failures.toString());
            assertTrue(failures.stream().anyMatch(f -> f.startsWith("plugin 'corrupt.jar' (" + plugins.resolve("corrupt.jar") + ") failed to load: ")), failures.toString());
        }
    }

    @Test
    void jarWithoutPluginIdIsReportedByFileNameAndTheCliStillListsTheOthers() throws IOException {
        Path plugins = Files.createDirectories(tmp.resolve("plugins"));
        jar(plugins, "good-plugin", null, compile("good", "GoodAlgorithm"));
        jar(plugins.resolve("no-id.jar"), Map.of("Plugin-Version", "1.0.0"), compile("noid", "NoIdAlgorithm"));
        jar(plugins.resolve("no-version.jar"), Map.of("Plugin-Id", "no-version"), compile("nover", "NoVersionAlgorithm"));
        try (PluginLoader.Result r = PluginLoader.load(List.of(plugins))) {
            assertTrue(r.registry().algorithm("GoodAlgorithm").isPresent());
            List<String> failures = r.failures().stream().map(PluginLoader.Failure::toString).toList();
            assertEquals(List.of(
                    "plugin 'no-id.jar' (" + plugins.resolve("no-id.jar") + ") failed to load: no plugin id: the jar's manifest needs a 'Plugin-Id' entry",
                    "plugin 'no-version.jar' (" + plugins.resolve("no-version.jar") + ") failed to load: no plugin version: the jar's manifest needs a 'Plugin-Version' entry"),
                    failures.stream().sorted().toList());
        }
        // the CLI: no crash, the good plugin listed, the bad ones as warnings and FAILED lines
        var out = new java.io.ByteArrayOutputStream();
        var err = new java.io.ByteArrayOutputStream();
        int code = org.ptq4j.host.cli.Main.run(new String[]{"plugins", "--plugins-dir", plugins.toString()}, new java.io.PrintStream(out, true),
                new java.io.PrintStream(err, true), k -> null, PluginLoader::load);
        assertEquals(0, code, err.toString());
        assertTrue(out.toString().contains("good-plugin 1.2.3"), out.toString());
        assertTrue(out.toString().contains("FAILED no-id.jar"), out.toString());
        assertTrue(err.toString().contains("warning: plugin 'no-id.jar'"), err.toString());
        assertFalse(err.toString().contains("internal error"), err.toString());
    }

    @Test
    void pluginWithoutExtensionsLoadsWithAWarningThatNamesTheCause() throws IOException {
        Path plugins = Files.createDirectories(tmp.resolve("plugins"));
        Path classes = compile("noidx", "Unindexed");
        Files.delete(classes.resolve("META-INF/extensions.idx"));
        jar(plugins, "no-index", null, classes);
        Path empty = compile("emptyidx", "EmptyIndex");
        Files.writeString(empty.resolve("META-INF/extensions.idx"), "");
        jar(plugins, "empty-index", null, empty);
        try (PluginLoader.Result r = PluginLoader.load(List.of(plugins))) {
            assertEquals(List.of(), r.failures());
            assertEquals(2, r.plugins().size());
            List<String> w = r.warnings().stream().sorted().toList();
            assertEquals(2, w.size(), w.toString());
            assertTrue(w.get(0).startsWith("plugin 'empty-index' (" + plugins.resolve("empty-index.jar") + ") provides no algorithm, dataset or metric: its META-INF/extensions.idx lists none"), w.get(0));
            assertTrue(w.get(1).startsWith("plugin 'no-index' (" + plugins.resolve("no-index.jar") + ") provides no algorithm, dataset or metric: it has no META-INF/extensions.idx"
                    + " (pf4j's annotation processor did not run"), w.get(1));
        }
    }

    @Test
    void pluginRequiresIsCheckedAgainstTheHostVersion() throws IOException {
        assertTrue(PluginLoader.systemVersion().matches("\\d+\\.\\d+\\.\\d+") && !PluginLoader.systemVersion().equals("0.0.0"), PluginLoader.systemVersion());
        Path plugins = Files.createDirectories(tmp.resolve("plugins"));
        String host = PluginLoader.systemVersion();
        jar(plugins.resolve("fits.jar"), Map.of("Plugin-Id", "fits", "Plugin-Version", "1.0.0", "Plugin-Requires", ">=" + host), compile("fits", "Fits"));
        jar(plugins.resolve("bare.jar"), Map.of("Plugin-Id", "bare", "Plugin-Version", "1.0.0", "Plugin-Requires", host), compile("bare", "Bare"));
        jar(plugins.resolve("future.jar"), Map.of("Plugin-Id", "future", "Plugin-Version", "1.0.0", "Plugin-Requires", ">=99.0.0"), compile("future", "Future"));
        jar(plugins.resolve("garbled.jar"), Map.of("Plugin-Id", "garbled", "Plugin-Version", "1.0.0", "Plugin-Requires", ">=banana"), compile("garbled", "Garbled"));
        try (PluginLoader.Result r = PluginLoader.load(List.of(plugins))) {
            assertTrue(r.registry().algorithm("Fits").isPresent(), r.failures().toString());
            assertTrue(r.registry().algorithm("Bare").isPresent(), r.failures().toString());
            assertFalse(r.registry().algorithm("Future").isPresent());
            Map<String, String> why = new LinkedHashMap<>();
            r.failures().forEach(f -> why.put(f.pluginId(), f.cause()));
            assertEquals("requires ptq >=99.0.0 (Plugin-Requires), but this is ptq " + host, why.get("future"));
            assertTrue(why.get("garbled").startsWith("Plugin-Requires '>=banana' is not a version range"), why.toString());
            assertEquals(2, why.size(), why.toString());
        }
    }

    @Test
    void pluginDependenciesAreCheckedForVersionAndLoadedFirst() throws IOException {
        Path plugins = Files.createDirectories(tmp.resolve("plugins"));
        // 'a-user' sorts before the plugin it needs, so it only loads if dependencies are loaded first
        jar(plugins, "a-user", "z-base@>=1.0.0", compile("user", "User"));
        jar(plugins, "z-base", null, compile("base", "Base"));
        jar(plugins, "too-new", "z-base@>=2.0.0", compile("toonew", "TooNew"));
        jar(plugins, "on-too-new", "too-new", compile("ontoonew", "OnTooNew"));
        try (PluginLoader.Result r = PluginLoader.load(List.of(plugins))) {
            assertTrue(r.registry().algorithm("User").isPresent(), r.failures().toString());
            assertTrue(r.registry().algorithm("Base").isPresent(), r.failures().toString());
            Map<String, String> why = new LinkedHashMap<>();
            r.failures().forEach(f -> why.put(f.pluginId(), f.cause()));
            assertEquals(Map.of("too-new", "requires plugin 'z-base' >=2.0.0, but version 1.2.3 is installed",
                    "on-too-new", "requires plugin 'too-new', which did not load"), why);
        }
    }

    @Test
    void duplicateNamesNameBothPlugins() throws IOException {
        Path plugins = Files.createDirectories(tmp.resolve("plugins"));
        jar(plugins, "first", null, compile("one", "SameName"));
        jar(plugins, "second", null, compile("two", "SameName"));
        PtqException e = assertThrows(PtqException.class, () -> PluginLoader.load(List.of(plugins)));
        assertTrue(e.getMessage().matches("algorithm 'SameName' is provided twice: by plugin '(first|second)' and by plugin '(first|second)'; remove one of them"), e.getMessage());
        assertTrue(e.getMessage().contains("'first'") && e.getMessage().contains("'second'"), e.getMessage());
    }

    @Test
    void missingFolderIsAnError() {
        PtqException e = assertThrows(PtqException.class, () -> PluginLoader.load(List.of(tmp.resolve("nope"))));
        assertEquals("plugin folder not found: " + tmp.resolve("nope"), e.getMessage());
    }

    @Test
    void foldersComeFromHomeEnvAndOptions() {
        List<Path> d = PluginLoader.folders(List.of(Path.of("/c")), k -> k.equals("PTQ_PLUGINS") ? "/a:/b" : null);
        assertEquals(List.of(Path.of("/a"), Path.of("/b"), Path.of("/c")), d.subList(d.size() - 3, d.size()));
    }
}
