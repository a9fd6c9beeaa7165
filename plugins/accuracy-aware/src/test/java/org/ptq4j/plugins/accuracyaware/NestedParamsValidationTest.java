package org.ptq4j.plugins.accuracyaware;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.cli.Main;
import org.ptq4j.host.plugins.PluginLoader;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** base_params embeds base_algorithm's parameters: `ptq validate` checks them with key path and line. */
class NestedParamsValidationTest {
    String stdout, stderr;

    int ptq(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
                k -> null, folders -> PluginLoader.classpathOnly());
        stdout = out.toString(StandardCharsets.UTF_8);
        stderr = err.toString(StandardCharsets.UTF_8);
        return code;
    }

    @Test
    void aTypoInsideBaseParamsFailsValidateWithKeyPathAndLine(@TempDir Path dir) throws Exception {
        Path yaml = dir.resolve("pipeline.yaml");
        // the step's params start at line 11 of the fixture
        Files.writeString(yaml, Fixture.aaqPipeline("out/aaq.onnx", """
                maximal_drop: 0.005
                base_algorithm: MinMaxQuantization
                base_params:
                  weights: {bitz: 4}
                  preset: mixd
                """));
        assertEquals(2, ptq("validate", "-c", yaml.toString()), stdout);
        assertTrue(stderr.contains("2 errors"), stderr);
        assertTrue(stderr.contains("pipeline[0].params.base_params.weights.bitz (line 14): unknown key 'bitz'; did you mean 'bits'?"), stderr);
        assertTrue(stderr.contains("pipeline[0].params.base_params.preset (line 15): 'mixd' is not one of"), stderr);

        // the default base algorithm (DefaultQuantization) is used when base_algorithm is absent
        Files.writeString(yaml, Fixture.aaqPipeline("out/aaq.onnx", """
                base_params: {fast_bias_corection: false}
                """));
        assertEquals(2, ptq("validate", "-c", yaml.toString()));
        assertTrue(stderr.contains("pipeline[0].params.base_params.fast_bias_corection (line 11): unknown key 'fast_bias_corection'; did you mean 'fast_bias_correction'?"), stderr);

        // an unknown base algorithm is a validation error too (it used to fail only when running)
        Files.writeString(yaml, Fixture.aaqPipeline("out/aaq.onnx", """
                base_algorithm: MinMaxQuantisation
                """));
        assertEquals(2, ptq("validate", "-c", yaml.toString()));
        assertTrue(stderr.contains("pipeline[0].params.base_algorithm (line 11): unknown algorithm 'MinMaxQuantisation' (for base_params); did you mean 'MinMaxQuantization'?"), stderr);

        // valid nested parameters pass, and the step gets them as written
        Files.writeString(yaml, Fixture.aaqPipeline("out/aaq.onnx", """
                base_algorithm: MinMaxQuantization
                base_params: {weights: {bits: 4}, preset: mixed}
                """));
        assertEquals(0, ptq("validate", "-c", yaml.toString()), stderr);
        assertTrue(stdout.startsWith("OK: "), stdout);
    }
}
