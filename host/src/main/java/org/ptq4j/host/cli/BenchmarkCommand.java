package org.ptq4j.host.cli;

import org.ptq4j.host.config.ConfigError;
import org.ptq4j.host.config.ConfigException;
import org.ptq4j.host.engine.OrtEngine;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.report.ReportDocs;
import org.ptq4j.host.report.ReportWriter;
import org.ptq4j.spi.CpuInfo;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.engine.Session;
import org.ptq4j.spi.engine.SessionOptions;
import org.ptq4j.spi.io.Npy;
import org.ptq4j.spi.model.Dim;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;

/**
 * {@code ptq benchmark}: latency of several models on the same inputs. After a warm-up, the models
 * run interleaved (model 1, model 2, ..., repeated), so that machine noise hits all of them alike;
 * reports median and p90 latency, throughput and the speed-up relative to the first model.
 */
@Command(name = "benchmark", mixinStandardHelpOptions = true,
        description = {"Compare model latency on the same random (or --data) inputs: warm-up, then interleaved runs.",
                "Uses 1 intra-op thread by default (spinning threads make timings on small machines bimodal)."})
final class BenchmarkCommand implements Callable<Integer> {
    @ParentCommand Main main;

    @Option(names = "--model", required = true, paramLabel = "ONNX", description = "model (repeatable; the first is the baseline)") List<Path> models;
    @Option(names = "--batch", defaultValue = "1", paramLabel = "N", description = "batch size (default ${DEFAULT-VALUE})") int batch;
    @Option(names = "--threads", defaultValue = "1", paramLabel = "N", description = "intra-op threads (default ${DEFAULT-VALUE}; >1 disables spinning)") int threads;
    @Option(names = "--warmup", defaultValue = "10", paramLabel = "N", description = "warm-up runs per model (default ${DEFAULT-VALUE})") int warmup;
    @Option(names = "--runs", defaultValue = "50", paramLabel = "N", description = "timed runs per model (default ${DEFAULT-VALUE})") int runs;
    @Option(names = "--data", paramLabel = "NPY", description = "feed rows of this .npy (axis 0 = samples) to the first input instead of random values") Path data;
    @Option(names = "--dim", paramLabel = "NAME=SIZE", description = "size of a symbolic input dimension, e.g. sequence_length=128 (the first dimension is --batch; others default to 1; an unknown name is an error)") Map<String, Long> dims = new LinkedHashMap<>();
    @Option(names = "--json", description = "print results as JSON (ptq-report.schema.json, kind 'benchmark')") boolean json;
    @Option(names = "--report", paramLabel = "HTML", description = "write the results as a self-contained HTML report") Path reportHtml;

    @Override
    public Integer call() {
        List<ConfigError> errors = new ArrayList<>();
        for (Path m : models) if (!Files.isRegularFile(m)) errors.add(new ConfigError("--model", 0, Main.notAFile(m.toAbsolutePath())));
        if (data != null && !Files.isRegularFile(data)) errors.add(new ConfigError("--data", 0, Main.notAFile(data.toAbsolutePath())));
        Main.range(errors, "--batch", batch, 1, org.ptq4j.host.config.PipelineConfigLoader.MAX_BATCH_SIZE);
        Main.range(errors, "--threads", threads, 0, org.ptq4j.host.config.PipelineConfigLoader.MAX_THREADS);
        Main.range(errors, "--runs", runs, 1, 1_000_000);
        Main.range(errors, "--warmup", warmup, 0, 1_000_000);
        dims.forEach((name, size) -> Main.range(errors, "--dim " + name, size, 1, Integer.MAX_VALUE));
        if (!errors.isEmpty()) throw new ConfigException(null, errors);

        OrtEngine engine = new OrtEngine();
        List<Session> sessions = new ArrayList<>();
        try {
            for (Path m : models) sessions.add(engine.open(OnnxIO.read(m), SessionOptions.defaults().withThreads(threads)));
            Map<String, Tensor> feeds = feeds(sessions.get(0).inputs());
            long[][] ns = org.ptq4j.spi.engine.Interleaved.time(sessions, feeds, warmup, runs);
            List<Map<String, Object>> rows = new ArrayList<>();
            double base = 0;
            for (int k = 0; k < sessions.size(); k++) {
                double[] mp = org.ptq4j.spi.engine.Interleaved.medianP90(ns[k]);
                double median = mp[0], p90 = mp[1];
                if (k == 0) base = median;
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("model", models.get(k).toString());
                row.put("model_bytes", org.ptq4j.host.onnx.ModelFiles.bytes(models.get(k)));
                row.put("median_ms", median);
                row.put("p90_ms", p90);
                row.put("samples_per_s", batch * 1000.0 / median);
                row.put("speedup", base / median);
                rows.add(row);
            }
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("batch", batch);
            doc.put("threads", threads);
            doc.put("warmup", warmup);
            doc.put("runs", runs);
            doc.put("inputs", data != null ? data.toString() : "random");
            doc.put("results", rows);
            CpuInfo cpu = CpuInfo.host();
            doc.put("cpu", org.ptq4j.host.report.ReportDocs.cpu(cpu));
            String slow = cpu.slowInt8Note(Double.NaN);
            if (slow != null) doc.put("note", slow);
            Map<String, Object> report = ReportDocs.benchmark(doc, Main.version());
            if (reportHtml != null) ReportWriter.write(report, reportHtml.toAbsolutePath().normalize(), null);
            if (json) main.out.println(ReportWriter.json(report));
            else {
                if (reportHtml != null) main.out.println("report: " + reportHtml.toAbsolutePath().normalize());
                main.out.printf("batch %d, %d thread(s), %d warm-up + %d interleaved runs per model, %s inputs%n", batch, threads, warmup, runs, data != null ? data.toString() : "random");
                main.out.println("cpu: " + cpu.describe());
                Output.table(main.out, rows, "");
                if (slow != null) main.out.println("note: " + slow);
            }
        } finally {
            for (Session s : sessions) s.close();
        }
        return 0;
    }


    private Map<String, Tensor> feeds(List<ValueInfo> inputs) {
        java.util.Set<String> symbolic = new java.util.LinkedHashSet<>();
        for (ValueInfo v : inputs) if (v.shape() != null) for (Dim d : v.shape()) if (!d.isFixed() && d.param() != null) symbolic.add(d.param());
        for (String name : dims.keySet())
            if (!symbolic.contains(name))
                throw new PtqException("--dim " + name + ": no input of " + models.get(0) + " has a dimension named '" + name + "'; its symbolic dimensions: "
                        + (symbolic.isEmpty() ? "none" : String.join(", ", symbolic)));
        Map<String, Tensor> feeds = new LinkedHashMap<>();
        Random rnd = new Random(0);
        for (int i = 0; i < inputs.size(); i++) {
            ValueInfo v = inputs.get(i);
            long[] shape = shape(v);
            if (i == 0 && data != null) {
                feeds.put(v.name(), fromData(Npy.read(data), shape, v));
                continue;
            }
            feeds.put(v.name(), random(v, shape, rnd));
        }
        return feeds;
    }

    private long[] shape(ValueInfo v) {
        if (v.shape() == null) throw new PtqException("input '" + v.name() + "' has no declared shape; cannot make benchmark inputs");
        long[] s = new long[v.shape().size()];
        for (int d = 0; d < s.length; d++) {
            Dim dim = v.shape().get(d);
            if (dim.isFixed()) s[d] = dim.value();
            else if (dim.param() != null && dims.containsKey(dim.param())) s[d] = dims.get(dim.param());
            else s[d] = d == 0 ? batch : 1;
        }
        return s;
    }

    private Tensor fromData(Tensor all, long[] shape, ValueInfo v) {
        long rows = all.dim(0);
        if (rows == 0) throw new PtqException(data + ": no rows");
        List<Tensor> picked = new ArrayList<>();
        for (int r = 0; r < shape[0]; r++) picked.add(all.slice0(r % rows, r % rows + 1));
        Tensor t = Tensor.concat0(picked);
        if (Tensor.numElements(shape) != t.numElements())
            throw new PtqException(data + ": rows of shape " + Arrays.toString(Arrays.copyOfRange(all.shape(), 1, all.rank())) + " do not fit input '" + v.name() + "' " + v.shape());
        t = t.reshape(shape);
        return v.dtype() != null && v.dtype() != t.dtype() ? t.to(v.dtype()) : t;
    }

    /** Gaussian floats; integer inputs get small ids (masks: 1, token type ids: 0). */
    static Tensor random(ValueInfo v, long[] shape, Random rnd) {
        long elements = 1;
        for (long d : shape) elements = d == 0 ? 0 : elements > (Integer.MAX_VALUE / 8) / d ? Integer.MAX_VALUE : elements * d;
        if (elements > Integer.MAX_VALUE / 8)
            throw new PtqException("input '" + v.name() + "' of shape " + Arrays.toString(shape) + " is too large for a benchmark input (over 2 GB); lower --batch or --dim");
        int n = (int) elements;
        DType t = v.dtype() == null ? DType.FLOAT : v.dtype();
        String name = v.name().toLowerCase();
        switch (t) {
            case FLOAT: {
                float[] f = new float[n];
                for (int i = 0; i < n; i++) f[i] = (float) rnd.nextGaussian();
                return Tensor.ofFloats(shape, f);
            }
            case INT64: case INT32: {
                long[] l = new long[n];
                for (int i = 0; i < n; i++) l[i] = name.contains("mask") ? 1 : name.contains("type") ? 0 : 1 + rnd.nextInt(999);
                Tensor x = Tensor.ofLongs(shape, l);
                return t == DType.INT64 ? x : x.to(t);
            }
            case UINT8: case INT8: {
                byte[] b = new byte[n];
                rnd.nextBytes(b);
                return Tensor.ofBytes(t, shape, b);
            }
            default: {
                float[] f = new float[n];
                for (int i = 0; i < n; i++) f[i] = (float) rnd.nextGaussian();
                return Tensor.ofFloats(shape, f).to(t);
            }
        }
    }

}
