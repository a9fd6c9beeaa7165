package org.ptq4j.plugins.biascorrection;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.ptq4j.spi.engine.Session;
import org.ptq4j.spi.model.Attribute;
import org.ptq4j.spi.model.Dim;
import org.ptq4j.spi.model.Graph;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.model.ValueInfo;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.ptq4j.plugins.biascorrection.Fixtures.ENGINE;

/** The per-channel mean of a Conv's output computed without convolving, against ONNX Runtime's Conv. */
class MeanModelTest {
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = ';', value = {
            "3x3 pad 1;        4; 6; 9; 11; 3; 3; 1; 1; 1; 1; 1,1,1,1; NOTSET; 1",
            "3x3 stride 2;     4; 6; 9; 11; 3; 3; 2; 2; 1; 1; 1,1,1,1; NOTSET; 1",
            "5x3 mixed;        3; 5; 10; 7; 5; 3; 2; 1; 1; 2; 2,0,1,1; NOTSET; 1",
            "dilated stride 3; 2; 4; 13; 12; 3; 3; 3; 3; 2; 2; 2,2,2,2; NOTSET; 1",
            "depthwise;        6; 6; 8; 8; 3; 3; 1; 1; 1; 1; 1,1,1,1; NOTSET; 6",
            "grouped same;     4; 6; 9; 10; 3; 3; 2; 2; 1; 1; 0,0,0,0; SAME_UPPER; 2",
            "valid 1x1;        5; 3; 7; 7; 1; 1; 2; 2; 1; 1; 0,0,0,0; VALID; 1"})
    void convOutputMeanPerChannelMatchesOnnxRuntime(String name, int cin, int cout, int h, int w, int kh, int kw, int sh, int sw,
                                                     int dh, int dw, String pads, String autoPad, int groups) {
        SplittableRandom r = new SplittableRandom(name.hashCode());
        float[] weight = new float[cout * (cin / groups) * kh * kw];
        for (int i = 0; i < weight.length; i++) weight[i] = (float) r.nextDouble(-1, 1);
        float[] input = new float[cin * h * w];
        for (int i = 0; i < input.length; i++) input[i] = (float) r.nextDouble(-1, 2);
        Graph g = new Graph("conv");
        g.inputs().add(new ValueInfo("x", DType.FLOAT, List.of(Dim.of(1), Dim.of(cin), Dim.of(h), Dim.of(w))));
        g.outputs().add(new ValueInfo("y", DType.FLOAT, null));
        g.initializers().put("w", Tensor.ofFloats(new long[]{cout, cin / groups, kh, kw}, weight));
        Node conv = Node.of("conv", "Conv", List.of("x", "w"), List.of("y"))
                .set(Attribute.ints("kernel_shape", List.of((long) kh, (long) kw)))
                .set(Attribute.ints("strides", List.of((long) sh, (long) sw)))
                .set(Attribute.ints("dilations", List.of((long) dh, (long) dw)))
                .set(Attribute.of("group", (long) groups));
        if (autoPad.equals("NOTSET")) conv.set(Attribute.ints("pads", Arrays.stream(pads.split(",")).map(Long::valueOf).toList()));
        else conv.set(Attribute.of("auto_pad", autoPad));
        g.addNode(conv);
        Tensor m = Tensor.ofFloats(new long[]{1, cin, h, w}, input);
        float[] expected;
        try (Session s = ENGINE.open(new Model(g, Map.of("", 13L), 7))) {
            expected = Means.perChannel(s.run(Map.of("x", m)).get("y"), 1);
        }
        MeanModel.Linear lin = MeanModel.linear(conv, g, new long[]{cin, h, w});
        float[] got = lin.mean(m);
        assertEquals(cout, got.length);
        for (int o = 0; o < cout; o++) assertEquals(expected[o], got[o], 1e-4, "output channel " + o);
        // a shift uniform over each input channel: the same as the mean of a constant input's output
        float[] d = new float[cin];
        for (int i = 0; i < cin; i++) d[i] = (float) r.nextDouble(-1, 1);
        float[] constant = new float[cin * h * w];
        for (int i = 0; i < cin; i++) Arrays.fill(constant, i * h * w, (i + 1) * h * w, d[i]);
        float[] viaMean = lin.mean(Tensor.ofFloats(new long[]{1, cin, h, w}, constant)), viaApply = lin.apply(d);
        for (int o = 0; o < cout; o++) assertEquals(viaMean[o], viaApply[o], 1e-4, "uniform shift, output channel " + o);
    }
}
