package org.ptq4j.spark;

import org.ptq4j.host.plugins.Registry;
import org.ptq4j.spi.stats.CollectorSpec;
import org.ptq4j.spi.stats.StatisticRequest;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.ObjectStreamClass;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Index shards, and the byte form of plugin objects (metric accumulators, collectors, statistic
 * requests). Plugin classes live in pf4j class loaders Spark does not know, so they travel as
 * bytes and are read back with the class loaders of the plugins on either side.
 */
final class Shards {
    private Shards() {}

    /** One shard: partition number and the dataset indices it runs, in order. */
    record Slice(int part, int[] indices) implements Serializable {}

    /**
     * Splits {@code indices} into at most {@code parts} contiguous shards whose sizes are multiples of
     * {@code align} (the batch size), so every shard runs exactly the batches a single machine runs.
     */
    static List<Slice> split(int[] indices, int parts, int align) {
        int a = Math.max(1, align);
        int batches = (indices.length + a - 1) / a;
        int p = Math.max(1, Math.min(parts, batches));
        List<Slice> out = new ArrayList<>();
        int from = 0;
        for (int i = 0; i < p; i++) {
            int nb = batches / p + (i < batches % p ? 1 : 0);
            int to = Math.min(indices.length, from + nb * a);
            if (to > from) out.add(new Slice(out.size(), Arrays.copyOfRange(indices, from, to)));
            from = to;
        }
        return out;
    }

    /** Requests as a serializable list: tensor, spec, tensor, spec, ... */
    static ArrayList<Object> requests(List<StatisticRequest> requests) {
        ArrayList<Object> out = new ArrayList<>();
        for (StatisticRequest r : requests) { out.add(r.tensor()); out.add(r.spec()); }
        return out;
    }

    static List<StatisticRequest> requests(ArrayList<Object> flat) {
        List<StatisticRequest> out = new ArrayList<>();
        for (int i = 0; i < flat.size(); i += 2) out.add(new StatisticRequest((String) flat.get(i), (CollectorSpec) flat.get(i + 1)));
        return out;
    }

    static byte[] bytes(Object o) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(b)) {
            out.writeObject(o);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot serialize " + o.getClass().getName() + " (a metric accumulator, collector or spec must be Serializable)", e);
        }
        return b.toByteArray();
    }

    @SuppressWarnings("unchecked")
    static <T> T read(byte[] data, List<ClassLoader> loaders) {
        try (ObjectInputStream in = new PluginObjectInput(new ByteArrayInputStream(data), loaders)) {
            return (T) in.readObject();
        } catch (IOException | ClassNotFoundException e) {
            throw new IllegalStateException("cannot read a shard's result: " + e, e);
        }
    }

    /** The class loaders of every installed extension, then the host's. */
    static List<ClassLoader> loaders(Registry registry, Object... more) {
        Set<ClassLoader> s = new LinkedHashSet<>();
        for (Object o : more) if (o != null) s.add(o.getClass().getClassLoader());
        registry.metrics().values().forEach(x -> s.add(x.getClass().getClassLoader()));
        registry.datasets().values().forEach(x -> s.add(x.getClass().getClassLoader()));
        registry.algorithms().values().forEach(x -> s.add(x.getClass().getClassLoader()));
        s.add(Shards.class.getClassLoader());
        s.remove(null);
        return new ArrayList<>(s);
    }

    private static final class PluginObjectInput extends ObjectInputStream {
        private final List<ClassLoader> loaders;

        PluginObjectInput(InputStream in, List<ClassLoader> loaders) throws IOException {
            super(in);
            this.loaders = loaders;
        }

        @Override
        protected Class<?> resolveClass(ObjectStreamClass desc) throws IOException, ClassNotFoundException {
            for (ClassLoader cl : loaders) {
                try {
                    return Class.forName(desc.getName(), false, cl);
                } catch (ClassNotFoundException ignored) { }
            }
            return super.resolveClass(desc);
        }
    }
}
