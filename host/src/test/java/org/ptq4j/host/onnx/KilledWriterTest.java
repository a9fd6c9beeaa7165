package org.ptq4j.host.onnx;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ptq4j.host.testing.TestAssets;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A writer process killed while it writes (SIGKILL: no chance to clean up; SIGTERM: shutdown hook)
 * leaves the previous output as it was, and no temporary file survives the next write.
 */
class KilledWriterTest {
    @TempDir Path dir;

    /** The child process: writes fmnist_mlp plus {@code args[1]} MB of weights to {@code args[0]} ({@code args[2]}: external data). */
    public static void main(String[] args) {
        Model m = OnnxIO.read(TestAssets.model("fmnist_mlp.onnx"));
        int n = Integer.parseInt(args[1]) * 1024 * 1024 / 4;
        m.graph().initializers().put("ballast", Tensor.ofFloats(new long[]{n}, new float[n]));
        System.out.println("writing");
        System.out.flush();
        OnnxIO.write(m, Path.of(args[0]), args.length > 2 ? 0 : OnnxIO.EXTERNAL_THRESHOLD);
        System.out.println("done");
    }

    List<String> files() throws IOException {
        try (Stream<Path> s = Files.list(dir)) { return s.map(p -> p.getFileName().toString()).sorted().toList(); }
    }

    List<String> temporaries() throws IOException {
        return files().stream().filter(f -> f.endsWith(".tmp")).toList();
    }

    /** Starts a writer of {@code out}, waits until its temporary file exists, then kills it ({@code force}: SIGKILL, else SIGTERM). */
    Process killWhileWriting(Path out, boolean external, boolean force) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new java.util.ArrayList<>(List.of(java, "-Xmx1g", "-cp", System.getProperty("java.class.path"),
                "-Dptq.shared.dir=" + TestAssets.shared(), KilledWriterTest.class.getName(), out.toString(), "300"));
        if (external) cmd.add("external");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolveSibling(dir.getFileName() + ".log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (temporaries().isEmpty()) {
            assertTrue(p.isAlive(), "the writer ended before its temporary file was seen: " + Files.readString(dir.resolveSibling(dir.getFileName() + ".log")));
            assertTrue(System.nanoTime() < deadline, "no temporary file after 60 s");
            Thread.sleep(1);
        }
        if (force) p.destroyForcibly(); else p.destroy();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return p;
    }

    @Test
    void sigkillLeavesThePreviousOutputAndTheNextWriteRemovesTheStaleTemporaries() throws Exception {
        for (boolean external : new boolean[]{false, true}) {
            Path out = dir.resolve("out.onnx");
            Files.copy(TestAssets.model("fmnist_cnn.onnx"), out, java.nio.file.StandardCopyOption.REPLACE_EXISTING);   // the previous good output
            byte[] previous = Files.readAllBytes(out);
            killWhileWriting(out, external, true);
            assertFalse(temporaries().isEmpty(), "SIGKILL gives no chance to clean up: the scenario needs a stale temporary");
            assertTrue(temporaries().stream().allMatch(f -> f.matches("\\.out\\.onnx(\\.data)?\\.ptq-\\d+-\\d+\\.tmp")), files().toString());
            assertArrayEquals(previous, Files.readAllBytes(out), "the previous output was changed by a killed run");
            assertFalse(Files.exists(dir.resolve("out.onnx.data")), "a .data file without its model: " + files());
            // the next write to the same output recognises the dead process's files and removes them
            Model m = OnnxIO.read(TestAssets.model("fmnist_mlp.onnx"));
            OnnxIO.write(m, out);
            assertEquals(List.of("out.onnx"), files());
        }
    }

    @Test
    void sigtermRemovesTheTemporariesAndKeepsThePreviousOutput() throws Exception {
        Path out = dir.resolve("out.onnx");
        Files.copy(TestAssets.model("fmnist_cnn.onnx"), out);
        byte[] previous = Files.readAllBytes(out);
        Process p = killWhileWriting(out, true, false);
        assertNotEquals(0, p.exitValue());
        assertEquals(List.of("out.onnx"), files(), "SIGTERM: the shutdown hook removes the temporary files");
        assertArrayEquals(previous, Files.readAllBytes(out));
    }

    @Test
    void temporariesOfLiveProcessesAreLeftAlone() throws Exception {
        Path out = dir.resolve("out.onnx");
        // a temporary file named by a running process (this one's parent: surely alive) is not removed
        long live = ProcessHandle.current().parent().map(ProcessHandle::pid).orElseThrow();
        Path other = Files.createFile(dir.resolve(".out.onnx.ptq-" + live + "-123.tmp"));
        Path dead = Files.createFile(dir.resolve(".out.onnx.data.ptq-" + Integer.MAX_VALUE + "-456.tmp"));
        Path unrelated = Files.createFile(dir.resolve(".other.onnx.ptq-" + Integer.MAX_VALUE + "-789.tmp"));
        OnnxIO.write(OnnxIO.read(TestAssets.model("fmnist_mlp.onnx")), out);
        assertTrue(Files.exists(other));
        assertFalse(Files.exists(dead));
        assertTrue(Files.exists(unrelated), "only the temporaries of this output are touched");
    }
}
