package org.ptq4j.host.pipeline;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.config.PipelineConfig;
import org.ptq4j.host.config.PipelineConfigLoader;
import org.ptq4j.host.engine.OrtEngine;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.plugins.Registry;
import org.ptq4j.host.plugins.TestExtensions;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.Progress;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.Statistics;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The pipeline machinery on a real model, real data and real ONNX Runtime. */
class PipelineRunnerTest {
    @TempDir Path dir;
    Registry registry = TestExtensions.registry().add(new Fails(), "test");
    PipelineRunner runner = new PipelineRunner(registry, new OrtEngine(), (t, n) -> Progress.NONE);

    @BeforeEach
    void assets() throws IOException {
        TestAssets.copyFmnistCnn(dir);
    }

    private PipelineConfig config(String steps) throws IOException {
        Path f = dir.resolve("pipeline.yaml");
        Files.writeString(f, """
                model: model.onnx
                output: out/result.onnx
                engine: {threads: 1, batch_size: 16}
                datasets:
                  calibration: {type: test_npy, path: calib.npy, limit: 40}
                  validation: {type: test_npy, path: test.npy, labels: labels.npy}
                metric: {type: test_top1}
                pipeline:
                """ + steps);
        return new PipelineConfigLoader(registry, k -> null).load(f);
    }

    @Test
    void collectsOnceAppliesStepsInOrderWritesAndEvaluates() throws IOException {
        byte[] before = Files.readAllBytes(dir.resolve("model.onnx"));
        PipelineRunner.Result r = runner.run(config("""
                  - algorithm: RangeProbe
                  - algorithm: InsertIdentity
                  - algorithm: AddMetadata
                    params: {key: note, value: ab, repeat: 2}
                """));
        Model out = OnnxIO.read(r.output());
        // statistics were really collected on the first 40 calibration rows (limit < stat_subset_size)
        assertEquals("40", out.metadata().get("range.samples"));
        float[] x = TestAssets.npy("fmnist-calib-300.npy").slice0(0, 40).floats();
        float mn = Float.MAX_VALUE, mx = -Float.MAX_VALUE;
        for (float v : x) { mn = Math.min(mn, v); mx = Math.max(mx, v); }
        String input = out.graph().feedInputs().get(0).name();
        assertEquals("Range[min=" + mn + ", max=" + mx + "]", out.metadata().get("range." + input));
        assertEquals("abab", out.metadata().get("note"));
        assertEquals("Identity", out.graph().nodes().get(0).opType());
        assertArrayEquals(before, Files.readAllBytes(dir.resolve("model.onnx")), "input model untouched");

        @SuppressWarnings("unchecked") Map<String, Object> acc = (Map<String, Object>) r.report().get("accuracy");
        double fp32 = (Double) acc.get("fp32");
        assertTrue(fp32 > 0.85 && fp32 < 0.95, "FP32 top-1 on 1k test images: " + fp32);
        assertEquals(fp32, (Double) acc.get("quantized"), 1e-12, "an Identity changes nothing");
        assertEquals(1000, acc.get("samples"));
        @SuppressWarnings("unchecked") Map<String, Object> run = (Map<String, Object>) r.report().get("run");
        assertEquals(40, run.get("calibration samples"));
        assertTrue(((Map<?, ?>) r.report().get("steps")).keySet().containsAll(List.of("RangeProbe", "InsertIdentity", "AddMetadata")));
    }

    @Test
    void failingStepLeavesNoOutputBehind() throws IOException {
        PipelineConfig c = config("""
                  - algorithm: InsertIdentity
                  - algorithm: Fails
                """);
        PtqException e = assertThrows(PtqException.class, () -> runner.run(c));
        assertEquals("Fails: tensor 'x' is not quantizable", e.getMessage());
        assertFalse(Files.exists(dir.resolve("out/result.onnx")));
        try (var s = Files.list(dir.resolve("out"))) { assertEquals(List.of(), s.toList(), "no temp files left"); }
    }

    @Test
    void unwritableOutputIsDetectedBeforeCalibrating() throws IOException {
        PipelineConfig ok = config("  - algorithm: RangeProbe\n");
        Files.writeString(dir.resolve("blocker"), "a file where a folder should be");
        PipelineConfig bad = new PipelineConfig(ok.file(), ok.baseDir(), ok.model(), dir.resolve("blocker/sub/m.onnx"), ok.engine(),
                ok.datasets(), ok.metric(), List.of(new PipelineConfig.Step(new Fails(), Params.empty(), 0)));
        PtqException e = assertThrows(PtqException.class, () -> runner.run(bad));
        assertTrue(e.getMessage().contains("output: cannot write " + dir.resolve("blocker/sub/m.onnx") + ": " + dir.resolve("blocker") + " is not a writable folder"), e.getMessage());
    }

    /** A step that rejects its input. */
    static final class Fails implements Algorithm {
        @Override public String name() { return "Fails"; }
        @Override public String description() { return "always fails"; }
        @Override public List<ParamSpec> parameters() { return List.of(); }
        @Override public Model apply(Model model, Params p, Statistics s, PipelineContext c) {
            throw new PtqException("Fails: tensor 'x' is not quantizable");
        }
    }
}
