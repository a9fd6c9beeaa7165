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
import java.util.List;
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
        Manifest mf = new Manifest();
        Attributes a = mf.getMainAttributes();
        a.put(Attributes.Name.MANIFEST_VERSION, "1.0");
        a.putValue("Plugin-Id", id);
        a.putValue("Plugin-Version", "1.2.3");
        a.putValue("Plugin-Provider", "tests");
        if (deps != null) a.putValue("Plugin-Dependencies", deps);
        Path jar = folder.resolve(id + ".jar");
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
