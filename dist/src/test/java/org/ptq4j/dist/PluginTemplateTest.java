package org.ptq4j.dist;

import org.junit.jupiter.api.Test;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.spi.model.Model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The plugin template as a vendor uses it: the ptq4j artifacts a plugin needs (parent, bom, spi) are
 * installed into a local repository of this test (never ~/.m2, which is only read, as a tail), the
 * template is copied outside the source tree and built there with Maven against those installed
 * artifacts only, and the distribution's {@code ptq} lists its jar and runs it in a pipeline.
 */
class PluginTemplateTest {
    static final Path REPO = Path.of(System.getProperty("ptq.repo.dir"));
    static final Path IT = Path.of(System.getProperty("ptq.it.dir"));
    static final String M2 = System.getProperty("ptq.m2.repo");

    record Mvn(int code, String log) {}

    static Mvn mvn(Path projectDir, Path localRepo, String... goals) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(REPO.resolve("mvnw").toString(), "-B", "-q", "-f", projectDir.resolve("pom.xml").toString(),
                "-Dmaven.repo.local=" + localRepo, "-Dmaven.repo.local.tail=" + M2));
        cmd.addAll(List.of(goals));
        Path log = Files.createTempFile("mvn", ".log");
        Process p = new ProcessBuilder(cmd).directory(projectDir.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(600, TimeUnit.SECONDS)) { p.destroyForcibly(); fail("mvn " + goals[0] + " timed out"); }
        Mvn r = new Mvn(p.exitValue(), Files.readString(log));
        Files.delete(log);
        return r;
    }

    static void copy(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path f : s.filter(x -> !from.relativize(x).startsWith("target")).toList()) {
                Path t = to.resolve(from.relativize(f).toString());
                if (Files.isDirectory(f)) Files.createDirectories(t);
                else Files.copy(f, t, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.COPY_ATTRIBUTES);
            }
        }
    }

    static void delete(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path f : s.sorted(Comparator.reverseOrder()).toList()) Files.delete(f);
        }
    }

    static String property(String pom, String name) {
        Matcher m = Pattern.compile("<" + Pattern.quote(name) + ">([^<]+)</").matcher(pom);
        assertTrue(m.find(), name + " not in pom");
        return m.group(1);
    }

    @Test
    void templateBuildsOutsideTheRepositoryAgainstInstalledArtifactsAndPtqRunsIt() throws Exception {
        String root = Files.readString(REPO.resolve("pom.xml")), bom = Files.readString(REPO.resolve("bom/pom.xml"));
        for (String p : List.of("pf4j.version", "slf4j.version")) assertEquals(property(root, p), property(bom, p), p + " of the bom and the parent");
        assertEquals(property(root, "version"), property(bom, "version"), "version of the bom and the parent");

        // 1. install parent, bom and spi from a copy of their sources into the test's own repository
        delete(IT);
        Path src = Files.createDirectories(IT.resolve("ptq4j-src")), localRepo = IT.resolve("repository");
        for (String d : List.of("bom", "spi")) copy(REPO.resolve(d), src.resolve(d));
        Files.writeString(src.resolve("pom.xml"), root.replaceFirst("(?s)<modules>.*?</modules>", "<modules><module>bom</module><module>spi</module></modules>"));
        Mvn install = mvn(src, localRepo, "install", "-DskipTests");
        assertEquals(0, install.code(), install.log());
        Path spiDir = localRepo.resolve("org/ptq4j/ptq4j-spi/0.1.0-SNAPSHOT");
        for (String f : List.of("ptq4j-spi-0.1.0-SNAPSHOT.jar", "ptq4j-spi-0.1.0-SNAPSHOT-sources.jar", "ptq4j-spi-0.1.0-SNAPSHOT-javadoc.jar"))
            assertTrue(Files.isRegularFile(spiDir.resolve(f)), f + " installed: " + spiDir);
        String spiPom = Files.readString(spiDir.resolve("ptq4j-spi-0.1.0-SNAPSHOT.pom"));
        assertFalse(spiPom.contains("<parent>"), "the installed spi pom is flattened:\n" + spiPom);
        assertTrue(spiPom.contains("<version>" + property(root, "pf4j.version") + "</version>"), spiPom);
        String bomPom = Files.readString(localRepo.resolve("org/ptq4j/ptq4j-bom/0.1.0-SNAPSHOT/ptq4j-bom-0.1.0-SNAPSHOT.pom"));
        assertFalse(bomPom.contains("<parent>"), bomPom);

        // 2. the template, copied outside the source tree, built against those artifacts
        Path outside = Files.createTempDirectory("ptq-plugin-template");
        try {
            Path project = outside.resolve("my-plugin");
            copy(REPO.resolve("examples/third-party-plugin"), project);
            Mvn build = mvn(project, localRepo, "package");
            assertEquals(0, build.code(), build.log());
            Path jar = project.resolve("target/ptq-example-stamp-1.0.0.jar");
            assertTrue(Files.isRegularFile(jar), build.log());

            // 3. ptq lists the jar (no warning: it has extensions and its Plugin-Requires fits) and runs it
            Path plugins = Files.createDirectories(outside.resolve("plugins"));
            Files.copy(jar, plugins.resolve(jar.getFileName()));
            DistributionTest.home = Path.of(System.getProperty("ptq.dist.dir"));
            DistributionTest.Run p = DistributionTest.ptq(Map.of("PTQ_PLUGINS", plugins.toString()), "plugins");
            assertEquals(0, p.code(), p.toString());
            assertEquals("", p.err(), p.toString());
            assertTrue(p.out().contains("example-stamp 1.0.0  " + plugins.resolve(jar.getFileName()) + "  [algorithm StampMetadata]"), p.out());
            Path yaml = outside.resolve("stamp.yaml");
            Files.writeString(yaml, "model: " + DistributionTest.home.resolve("examples/fmnist/fmnist_cnn.onnx") + "\n"
                    + "output: out/stamped.onnx\n"
                    + "pipeline:\n  - algorithm: StampMetadata\n    params: {prefix: \"acme.\", entries: {team: vision}}\n");
            DistributionTest.Run q = DistributionTest.ptq(Map.of("PTQ_PLUGINS", plugins.toString()), "quantize", "-c", yaml.toString());
            assertEquals(0, q.code(), q.toString());
            Model m = OnnxIO.read(outside.resolve("out/stamped.onnx"));
            assertEquals("vision", m.metadata().get("acme.team"), m.metadata().toString());
        } finally {
            delete(outside);
        }
    }
}
