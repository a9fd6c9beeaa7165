package org.ptq4j.api;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.Evaluation;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.tensor.Tensor;

import javax.tools.ToolProvider;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;

import static org.junit.jupiter.api.Assertions.*;

/** A vendor's plugin jar loaded from a folder next to the class path plugins. */
class PluginsDirTest {
    @TempDir Path tmp;

    /** A metric plugin 'vendor_top1' (top-1 accuracy), compiled and packaged here as a vendor would. */
    Path vendorPlugin(Path folder) throws IOException {
        Path src = tmp.resolve("src/com/vendor"), classes = tmp.resolve("classes");
        Files.createDirectories(src);
        Files.createDirectories(classes.resolve("META-INF"));
        Path file = src.resolve("Top1.java");
        Files.writeString(file, """
                package com.vendor;
                import org.ptq4j.spi.metric.*; import org.ptq4j.spi.param.*; import org.ptq4j.spi.tensor.Tensor; import java.util.*;
                @org.pf4j.Extension
                public class Top1 implements MetricFactory {
                  public String type() { return "vendor_top1"; }
                  public String description() { return "top-1 accuracy, by a vendor"; }
                  public List<ParamSpec> parameters() { return List.of(); }
                  public Metric create(Params p, MetricContext ctx) {
                    String out = ctx.modelOutputs().get(0).name();
                    return new Metric() {
                      public String name() { return "vendor_top1"; }
                      public boolean higherIsBetter() { return true; }
                      public boolean needsAnnotations() { return true; }
                      public boolean needsReference() { return false; }
                      public Accumulator newAccumulator() { return new Acc(out); }
                    };
                  }
                  static final class Acc implements Metric.Accumulator {
                    final String out; long hits, n;
                    Acc(String out) { this.out = out; }
                    public double[] update(Map<String, Tensor> o, Map<String, Tensor> r, List<Tensor> labels) {
                      Tensor t = o.get(out); float[] v = t.floats(); int b = (int) t.dim(0), k = (int) (t.numElements() / b);
                      double[] res = new double[b];
                      for (int i = 0; i < b; i++) {
                        int best = 0; for (int j = 1; j < k; j++) if (v[i * k + j] > v[i * k + best]) best = j;
                        res[i] = best == labels.get(i).longs()[0] ? 1 : 0; hits += (long) res[i];
                      }
                      n += b; return res;
                    }
                    public void merge(Metric.Accumulator other) { hits += ((Acc) other).hits; n += ((Acc) other).n; }
                    public double value() { return n == 0 ? 0 : (double) hits / n; }
                    public long count() { return n; }
                  }
                }
                """);
        // pf4j's annotation processor writes META-INF/extensions.idx, as in a vendor's build
        var log = new java.io.ByteArrayOutputStream();
        int rc = ToolProvider.getSystemJavaCompiler().run(null, log, log, "-cp", System.getProperty("java.class.path"),
                "-processor", "org.pf4j.processor.ExtensionAnnotationProcessor", "-d", classes.toString(), file.toString());
        assertEquals(0, rc, log.toString());
        assertTrue(Files.isRegularFile(classes.resolve("META-INF/extensions.idx")), log.toString());
        Manifest mf = new Manifest();
        Attributes a = mf.getMainAttributes();
        a.put(Attributes.Name.MANIFEST_VERSION, "1.0");
        a.putValue("Plugin-Id", "vendor-metrics");
        a.putValue("Plugin-Version", "2.0.0");
        a.putValue("Plugin-Requires", ">=0.1.0");
        Path jar = folder.resolve("vendor-metrics-2.0.0.jar");
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar), mf); var walk = Files.walk(classes)) {
            for (Path p : walk.filter(Files::isRegularFile).toList()) {
                out.putNextEntry(new JarEntry(classes.relativize(p).toString().replace('\\', '/')));
                Files.copy(p, out);
                out.closeEntry();
            }
        }
        return jar;
    }

    @Test
    void vendorMetricFromAFolderNextToTheClassPathPlugins() throws IOException {
        Path plugins = Files.createDirectories(tmp.resolve("plugins"));
        vendorPlugin(plugins);
        Tensor x = TestAssets.npy("fmnist-test-1k.npy");
        long[] y = TestAssets.npy("fmnist-test-1k-labels.npy").longs();
        record Item(float[] pixels, long label) {}
        List<Item> items = new ArrayList<>();
        for (int i = 0; i < 200; i++) items.add(new Item(x.slice0(i, i + 1).floats(), y[i]));
        Data<Item> data = Data.ofFloats(items, Item::pixels).labels(Item::label);

        try (Ptq ptq = Ptq.builder().pluginsDir(plugins).build()) {
            assertEquals(List.of("vendor-metrics"), ptq.plugins().stream().map(p -> p.id()).toList());
            assertTrue(ptq.metricTypes().containsAll(List.of("vendor_top1", "accuracy")), ptq.metricTypes().toString());
            Evaluation vendor = ptq.evaluate(TestAssets.model("fmnist_cnn.onnx")).on(data).metric("vendor_top1").run();
            Evaluation bundled = ptq.evaluate(TestAssets.model("fmnist_cnn.onnx")).on(data).metric("accuracy").run();
            assertEquals(200, vendor.samples());
            assertEquals(bundled.value(), vendor.value(), 1e-12);
        }

        // a broken jar next to it: build() names it; ignorePluginFailures() keeps the good one
        Files.write(plugins.resolve("broken.jar"), "not a jar".getBytes(StandardCharsets.UTF_8));
        PtqException e = assertThrows(PtqException.class, () -> Ptq.builder().pluginsDir(plugins).build());
        assertTrue(e.getMessage().startsWith("1 plugin did not load:\n  plugin 'broken.jar' (" + plugins.resolve("broken.jar") + ") failed to load: "), e.getMessage());
        try (Ptq ptq = Ptq.builder().pluginsDir(plugins).ignorePluginFailures().build()) {
            assertTrue(ptq.metricTypes().contains("vendor_top1"));
            assertEquals(1, ptq.pluginFailures().size());
        }
    }
}
