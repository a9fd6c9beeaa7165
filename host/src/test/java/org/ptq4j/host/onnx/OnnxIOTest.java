package org.ptq4j.host.onnx;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.engine.OrtEngine;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.engine.Session;
import org.ptq4j.spi.io.Npy;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.tensor.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class OnnxIOTest {
    static final List<String> MODELS = List.of("fmnist_cnn.onnx", "fmnist_resnet.onnx", "fmnist_mlp.onnx", "fmnist_mlp_matmul.onnx");

    @Test
    void unchangedModelsRoundTripByteIdentically(@TempDir Path tmp) throws Exception {
        for (String name : MODELS) {
            Path src = TestAssets.model(name);
            Model m = OnnxIO.read(src);
            Path out = tmp.resolve(name);
            OnnxIO.write(m, out);
            assertArrayEquals(Files.readAllBytes(src), Files.readAllBytes(out), name + " changed on a read/write round trip");
        }
    }

    @Test
    void modelsReproduceGoldenLogitsThroughTheEngine() {
        Tensor x = Npy.read(TestAssets.data("fmnist-test-1k.npy")).slice0(0, 100);
        for (String name : List.of("fmnist_cnn", "fmnist_resnet", "fmnist_mlp")) {
            float[] golden = Npy.read(TestAssets.model(name + ".golden-logits-test100.npy")).floats();
            Model m = OnnxIO.read(TestAssets.model(name + ".onnx"));
            try (Session s = new OrtEngine().open(m)) {
                float[] y = s.run(Map.of("input", x)).get("logits").floats();
                double maxErr = 0;
                for (int i = 0; i < y.length; i++) maxErr = Math.max(maxErr, Math.abs(y[i] - golden[i]));
                assertTrue(maxErr < 1e-4, name + ": max |logit - golden| = " + maxErr);
            }
        }
    }

    @Test
    void editedModelsAndExternalDataRoundTrip(@TempDir Path tmp) throws Exception {
        Model m = OnnxIO.read(TestAssets.model("fmnist_cnn.onnx"));
        Model edited = m.copy();
        // insert an Identity in front of the output: structure changes, results must not
        String out = edited.graph().outputs().get(0).name();
        Node last = edited.graph().producer(out);
        String mid = edited.graph().uniqueName(out + "_pre");
        last.outputs().set(last.outputs().indexOf(out), mid);
        edited.graph().addNode(Node.of("extra_identity", "Identity", List.of(mid), List.of(out)));
        edited.metadata().put("ptq4j.test", "yes");
        Path f = tmp.resolve("edited.onnx");
        OnnxIO.write(edited, f);
        Model back = OnnxIO.read(f);
        assertEquals("yes", back.metadata().get("ptq4j.test"));
        assertTrue(back.graph().node("extra_identity").isPresent());
        assertEquals(m.graph().nodes().size() + 1, back.graph().nodes().size());
        // the original is untouched by edits of the copy
        assertFalse(m.graph().node("extra_identity").isPresent());

        // external data: the same weights written beside the model, read back memory-mapped
        Path ext = tmp.resolve("ext");
        Files.createDirectories(ext);
        Tensor x = Npy.read(TestAssets.data("fmnist-test-1k.npy")).slice0(0, 8);
        float[] expected, actual;
        try (Session s = new OrtEngine().open(m)) { expected = s.run(Map.of("input", x)).get("logits").floats(); }
        OnnxIO.write(m, ext.resolve("m.onnx"), 0);
        Model viaExternal = OnnxIO.read(ext.resolve("m.onnx"));
        assertTrue(Files.size(ext.resolve("m.onnx")) < 50_000, "weights should live in the .data file");
        assertTrue(Files.exists(ext.resolve("m.onnx.data")));
        try (Session s = new OrtEngine().open(viaExternal)) { actual = s.run(Map.of("input", x)).get("logits").floats(); }
        assertArrayEquals(expected, actual, 1e-6f);
        // the external-data model is also readable by ONNX Runtime from its path
        assertTrue(Arrays.equals(OnnxIO.read(ext.resolve("m.onnx")).graph().initializers().keySet().toArray(), m.graph().initializers().keySet().toArray()));
    }

    @Test
    void corruptAndTruncatedModelsGiveClearErrors(@TempDir Path tmp) throws Exception {
        byte[] good = Files.readAllBytes(TestAssets.model("fmnist_cnn.onnx"));
        Path truncated = tmp.resolve("truncated.onnx");
        Files.write(truncated, Arrays.copyOf(good, good.length / 2));
        PtqException e = assertThrows(PtqException.class, () -> OnnxIO.read(truncated));
        assertTrue(e.getMessage().startsWith(truncated.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("not a valid ONNX model"), e.getMessage());

        Path garbage = tmp.resolve("garbage.onnx");
        Files.writeString(garbage, "this is not a model\n");
        assertTrue(assertThrows(PtqException.class, () -> OnnxIO.read(garbage)).getMessage().contains("not a valid ONNX model"));

        PtqException missing = assertThrows(PtqException.class, () -> OnnxIO.read(tmp.resolve("nope.onnx")));
        assertTrue(missing.getMessage().contains("not found"), missing.getMessage());
    }

    @Test
    void writeIsAtomicAndRefusesUnwritableFolders(@TempDir Path tmp) throws Exception {
        Model m = OnnxIO.read(TestAssets.model("fmnist_mlp.onnx"));
        // a folder that cannot be created (a file is in the way): works as root too
        Path blocker = tmp.resolve("blocker");
        Files.writeString(blocker, "x");
        PtqException e = assertThrows(PtqException.class, () -> OnnxIO.write(m, blocker.resolve("out.onnx")));
        assertTrue(e.getMessage().contains("cannot create the output folder"), e.getMessage());
        // a successful write leaves exactly the target, no temporary files
        Path dir = tmp.resolve("ok");
        OnnxIO.write(m, dir.resolve("out.onnx"));
        OnnxIO.write(m, dir.resolve("out.onnx")); // overwrite in place
        try (var files = Files.list(dir)) {
            assertEquals(List.of("out.onnx"), files.map(p -> p.getFileName().toString()).toList());
        }
    }
}
