package org.ptq4j.host.run;

import org.ptq4j.spi.Batch;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.data.Sample;
import org.ptq4j.spi.tensor.Tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Streams batches of a dataset: samples are decoded ahead by a small thread pool, at most
 * {@link #AHEAD} batches beyond the current one are held.
 */
final class BatchIterator implements Iterator<Batch> {
    static final int AHEAD = 2;
    private final Dataset dataset;
    private final int[] indices;
    private final int batchSize;
    private final ExecutorService pool;
    private final ArrayDeque<List<Future<Sample>>> queue = new ArrayDeque<>();
    private int next;

    BatchIterator(Dataset dataset, int[] indices, int batchSize, int threads) {
        this.dataset = dataset;
        this.indices = indices;
        this.batchSize = batchSize;
        this.pool = threads <= 1 ? null : Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "ptq-decode");
            t.setDaemon(true);
            return t;
        });
        fill();
    }

    private void fill() {
        while (queue.size() <= AHEAD && next < indices.length) {
            int end = Math.min(indices.length, next + batchSize);
            List<Future<Sample>> fs = new ArrayList<>(end - next);
            for (int i = next; i < end; i++) {
                int idx = indices[i];
                java.util.concurrent.Callable<Sample> read = () -> dataset.get(idx);
                // without a pool, samples are read lazily in the consumer thread (see next())
                fs.add(pool != null ? pool.submit(read) : new java.util.concurrent.FutureTask<>(read));
            }
            queue.add(fs);
            next = end;
        }
    }

    @Override
    public boolean hasNext() {
        boolean more = !queue.isEmpty();
        if (!more && pool != null) pool.shutdownNow();
        return more;
    }

    @Override
    public Batch next() {
        List<Future<Sample>> fs = queue.poll();
        if (fs == null) throw new NoSuchElementException();
        List<Sample> samples = new ArrayList<>(fs.size());
        try {
            for (Future<Sample> f : fs) {
                if (f instanceof java.util.concurrent.FutureTask<Sample> t && pool == null) t.run();
                samples.add(f.get());
            }
        } catch (ExecutionException e) {
            if (pool != null) pool.shutdownNow();
            Throwable c = e.getCause();
            if (c instanceof RuntimeException re) throw re;
            throw new PtqException("reading a sample failed: " + c, c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        fill();
        return stack(samples);
    }

    static Batch stack(List<Sample> samples) {
        int[] idx = new int[samples.size()];
        Map<String, List<Tensor>> cols = new LinkedHashMap<>();
        List<Tensor> ann = new ArrayList<>(samples.size());
        for (int i = 0; i < samples.size(); i++) {
            Sample s = samples.get(i);
            idx[i] = s.index();
            for (Map.Entry<String, Tensor> e : s.inputs().entrySet()) cols.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(e.getValue());
            ann.add(s.annotation());
        }
        Map<String, Tensor> inputs = new LinkedHashMap<>();
        for (Map.Entry<String, List<Tensor>> e : cols.entrySet()) {
            List<Tensor> ts = e.getValue();
            if (ts.size() != samples.size()) throw new PtqException("dataset input '" + e.getKey() + "' is missing in some samples");
            long[] first = ts.get(0).shape();
            for (int i = 1; i < ts.size(); i++) {
                if (!Arrays.equals(first, ts.get(i).shape()) || ts.get(i).dtype() != ts.get(0).dtype())
                    throw new PtqException("samples '" + samples.get(0).id() + "' and '" + samples.get(i).id() + "' have different shapes for input '"
                            + e.getKey() + "': " + ts.get(0) + " vs " + ts.get(i) + "; resize them to one shape or use batch size 1");
            }
            inputs.put(e.getKey(), Tensor.stack(ts));
        }
        return new Batch(idx, inputs, ann);
    }
}
