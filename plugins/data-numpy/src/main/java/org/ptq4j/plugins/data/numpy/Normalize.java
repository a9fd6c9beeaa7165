package org.ptq4j.plugins.data.numpy;

import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.util.Arrays;
import java.util.List;

/**
 * {@code y = (x * scale - mean[c]) / std[c]}, with {@code c} the index along the sample's channel
 * axis (a single mean/std value broadcasts), then conversion to the target dtype.
 */
final class Normalize {
    private final float scale;
    private final float[] mean, std;
    private final int channelAxis;
    private final DType target;

    private Normalize(float scale, float[] mean, float[] std, int channelAxis, DType target) {
        this.scale = scale;
        this.mean = mean;
        this.std = std;
        this.channelAxis = channelAxis;
        this.target = target;
    }

    /**
     * Validates the parameters against one input's sample shape; {@code what} names the input in errors.
     * {@code channelAxis} is the axis of the sample (no batch axis).
     */
    static Normalize of(double scale, List<Double> mean, List<Double> std, int channelAxis, long[] sampleShape, DType target, String what) {
        boolean identity = scale == 1 && mean.isEmpty() && std.isEmpty();
        if (!identity && !target.isFloatingPoint())
            throw new PtqException(what + ": scale/mean/std need a floating-point input, but it is " + target + " (set 'dtype' or drop the normalisation)");
        if (identity) return none(target);
        int channels = mean.size() > 1 || std.size() > 1 ? checkAxis(channelAxis, sampleShape, what) : 1;
        float[] m = values("mean", mean, channels, 0, sampleShape, channelAxis, what);
        float[] s = values("std", std, channels, 1, sampleShape, channelAxis, what);
        for (float v : s) if (v == 0) throw new PtqException(what + ": 'std' contains 0");
        return new Normalize((float) scale, m, s, channelAxis, target);
    }

    /** Only the dtype conversion. */
    static Normalize none(DType target) { return new Normalize(1, new float[]{0}, new float[]{1}, 0, target); }

    private static int checkAxis(int axis, long[] shape, String what) {
        if (axis < 0 || axis >= shape.length)
            throw new PtqException(what + ": channel axis " + (axis + 1) + " is outside the input's shape [batch, "
                    + Arrays.toString(shape).substring(1));
        return (int) shape[axis];
    }

    private static float[] values(String key, List<Double> v, int channels, float dflt, long[] shape, int axis, String what) {
        if (v.isEmpty()) return new float[]{dflt};
        if (v.size() != 1 && v.size() != channels)
            throw new PtqException(what + ": '" + key + "' has " + v.size() + " values, expected 1 or " + channels
                    + " (the size of channel axis " + (axis + 1) + " of [batch, " + Arrays.toString(shape).substring(1) + ")");
        float[] f = new float[v.size()];
        for (int i = 0; i < f.length; i++) f[i] = v.get(i).floatValue();
        return f;
    }

    boolean isIdentity() { return scale == 1 && mean.length == 1 && mean[0] == 0 && std.length == 1 && std[0] == 1; }

    DType target() { return target; }

    /** Normalises and converts one sample (no batch axis). */
    Tensor apply(Tensor sample) {
        if (isIdentity()) return sample.to(target);
        float[] x = sample.floats();
        long[] shape = sample.shape();
        long inner = 1;
        for (int a = channelAxis + 1; a < shape.length; a++) inner *= shape[a];
        boolean perChannel = mean.length > 1 || std.length > 1;
        int channels = perChannel ? (int) shape[channelAxis] : 1;
        for (int i = 0; i < x.length; i++) {
            int c = perChannel ? (int) ((i / inner) % channels) : 0;
            x[i] = (x[i] * scale - mean[mean.length == 1 ? 0 : c]) / std[std.length == 1 ? 0 : c];
        }
        Tensor f = Tensor.ofFloats(shape, x);
        return target == DType.FLOAT ? f : f.to(target);
    }
}
