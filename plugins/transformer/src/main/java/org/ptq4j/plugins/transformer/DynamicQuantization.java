package org.ptq4j.plugins.transformer;

import org.ptq4j.spi.model.AnnotationKey;
import org.pf4j.Extension;
import org.ptq4j.spi.Algorithm;
import org.ptq4j.spi.PipelineContext;
import org.ptq4j.spi.model.Attribute;
import org.ptq4j.spi.model.Graph;
import org.ptq4j.spi.model.Model;
import org.ptq4j.spi.model.Node;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.Params;
import org.ptq4j.spi.stats.Statistics;
import org.ptq4j.spi.tensor.DType;
import org.ptq4j.spi.tensor.Tensor;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code DynamicQuantization}: INT8 weights, activations quantized at run time, no calibration data
 * (what ONNX Runtime's {@code quantize_dynamic} does).
 * <p>
 * Every {@code MatMul} whose second input is a rank-2 float initializer {@code W[K, N]} gets symmetric
 * INT8 weights (per output column by default; {@link Int8Weights}). Two output forms:
 * <ul>
 *   <li>{@code integer_ops} (standard ONNX, opset >= 10): {@code DynamicQuantizeLinear(x)} (shared
 *       by all MatMuls reading x) {@code -> MatMulInteger -> Cast -> Mul(s_x * s_w)}; ONNX Runtime
 *       fuses it into {@code DynamicQuantizeMatMul};</li>
 *   <li>{@code contrib}: one {@code com.microsoft:DynamicQuantizeMatMul} per MatMul, with a following
 *       bias {@code Add} folded in (ONNX Runtime only).</li>
 * </ul>
 * With {@code quantize_embeddings}, the float tables of {@code Gather} nodes (word, position,
 * token-type embeddings) are stored INT8 per tensor with a {@code DequantizeLinear} after the
 * gather (4x smaller). Node names of the FP32 model are kept for the quantized MatMuls.
 */
@Extension
public final class DynamicQuantization implements Algorithm {
    public static final String NAME = "DynamicQuantization";

    @Override public String name() { return NAME; }

    @Override public String description() { return "INT8 weights, activations quantized at run time (no calibration data)"; }

    @Override
    public List<ParamSpec> parameters() {
        return List.of(
                ParamSpec.bool("per_channel", true, "one weight scale per output column (else one per tensor)"),
                ParamSpec.choice("format", "integer_ops", "standard DynamicQuantizeLinear + MatMulInteger, or com.microsoft DynamicQuantizeMatMul",
                        "integer_ops", "contrib"),
                ParamSpec.bool("quantize_embeddings", true, "store Gather tables (embeddings) INT8"),
                ParamSpec.choice("target_device", "ANY", "ANY (default): weights on a grid that cannot saturate the int16 pair sums of x86 CPUs without VNNI; "
                        + "CPU_VNNI: full 8-bit weights (VNNI/AMX, arm64); CPU_NO_VNNI: as ANY; HOST: this CPU", org.ptq4j.spi.CpuInfo.TARGETS.toArray(String[]::new)),
                ParamSpec.map("ignored", "layers to keep in float",
                        ParamSpec.strings("names", "node names"), ParamSpec.strings("types", "op types")));
    }

    @Override
    public Model apply(Model model, Params params, Statistics statistics, PipelineContext context) {
        boolean perChannel = params.getBool("per_channel");
        boolean contrib = params.getString("format").equals("contrib");
        String target = params.getString("target_device");
        boolean pairwise = org.ptq4j.spi.CpuInfo.targetSaturates(target);
        Set<String> ignoredNames = Set.copyOf(params.map("ignored").getStrings("names"));
        Set<String> ignoredTypes = Set.copyOf(params.map("ignored").getStrings("types"));

        Model out = model.copy();
        Graph g = out.graph();
        Map<String, String[]> dynQuant = new HashMap<>();   // x -> {x_q, x_scale, x_zero_point}
        Map<String, String[]> weights = new HashMap<>();  // W -> {W_q, W_scale, W_zero_point}: shared weights quantized once
        List<String> quantized = new ArrayList<>();
        List<Node> remove = new ArrayList<>();
        int embeddings = 0, biasesFolded = 0;

        for (Node n : new ArrayList<>(g.nodes())) {
            if (!n.domain().isEmpty() || ignoredNames.contains(n.name()) || ignoredTypes.contains(n.opType())) continue;
            if (n.opType().equals("MatMul") && isFloatInit(g, n.input(1), 2)) {
                String x = n.input(0), w = n.input(1), y = n.output(0);
                String[] wn = weights.computeIfAbsent(w, k -> quantize(g, k, perChannel, pairwise));
                String wq = wn[0], ws = wn[1], wz = wn[2];
                if (contrib) {
                    Node bias = foldableBias(g, n, (int) g.initializer(w).orElseThrow().dim(1));
                    String biasName = "", outName = y;
                    if (bias != null) {
                        biasName = g.isInitializer(bias.input(0)) ? bias.input(0) : bias.input(1);
                        outName = bias.output(0);
                        remove.add(bias);
                        biasesFolded++;
                    }
                    Node dq = new Node(n.name(), "DynamicQuantizeMatMul", "com.microsoft", List.of(x, wq, ws, wz, biasName), List.of(outName));
                    g.addNodeBefore(n, dq);
                } else {
                    String[] xq = dynQuant.computeIfAbsent(x, k -> {
                        String[] o = {g.uniqueName(k + "_quantized"), g.uniqueName(k + "_scale"), g.uniqueName(k + "_zero_point")};
                        g.addNodeBefore(n, Node.of(g.uniqueName(k + "_DynamicQuantizeLinear"), "DynamicQuantizeLinear", List.of(k), List.of(o)));
                        return o;
                    });
                    String scale = g.uniqueName(y + "_scale"), acc = g.uniqueName(y + "_int32"), fl = g.uniqueName(y + "_float");
                    g.addNodeBefore(n, Node.of(g.uniqueName(n.name() + "_scale_Mul"), "Mul", List.of(xq[1], ws), List.of(scale)));
                    g.addNodeBefore(n, Node.of(n.name(), "MatMulInteger", List.of(xq[0], wq, xq[2], wz), List.of(acc)));
                    g.addNodeBefore(n, Node.of(g.uniqueName(n.name() + "_cast"), "Cast", List.of(acc), List.of(fl))
                            .set(Attribute.of("to", (long) DType.FLOAT.onnxCode())));
                    g.addNodeBefore(n, Node.of(g.uniqueName(n.name() + "_output_Mul"), "Mul", List.of(fl, scale), List.of(y)));
                }
                remove.add(n);
                quantized.add(n.name());
            } else if (n.opType().equals("Gather") && params.getBool("quantize_embeddings") && isFloatInit(g, n.input(0), 2)) {
                String table = n.input(0), y = n.output(0);
                String[] tn = weights.computeIfAbsent(table, k -> quantize(g, k, false, false));
                String tq = tn[0], ts = tn[1], tz = tn[2];
                String gathered = g.uniqueName(y + "_quantized");
                n.inputs().set(0, tq);
                n.outputs().set(0, gathered);
                g.addNode(Node.of(g.uniqueName(n.name() + "_DequantizeLinear"), "DequantizeLinear", List.of(gathered, ts, tz), List.of(y)));
                embeddings++;
            }
        }
        g.removeNodes(remove);
        g.touch();
        g.removeUnusedInitializers();
        g.sortTopologically();
        if (contrib) out.opsets().putIfAbsent("com.microsoft", 1L);
        if (out.opset() < 10) throw new org.ptq4j.spi.PtqException("model" + (model.source() == null ? "" : " " + model.source())
                + " has opset " + out.opset() + "; dynamic quantization needs opset >= 10");

        if (quantized.isEmpty()) context.log().warn("DynamicQuantization: no MatMul with a constant rank-2 float weight in the model; nothing quantized");
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("matmuls", quantized.size());
        summary.put("weights", (perChannel ? "int8 per-channel, symmetric" : "int8 per-tensor, symmetric")
                + (pairwise ? "; no int16 pair can saturate on x86 CPUs without VNNI (target " + target + ")" : "; full 8-bit (target " + target + "): exact on VNNI/AMX and arm64 only"));
        summary.put("format", contrib ? "com.microsoft:DynamicQuantizeMatMul (" + biasesFolded + " biases folded)" : "DynamicQuantizeLinear + MatMulInteger");
        summary.put("embedding_tables", embeddings);
        summary.forEach((k, v) -> context.report().put(NAME, k, v));
        AnnotationKey.QUANTIZED_LAYERS.put(out, List.copyOf(quantized));
        AnnotationKey.FP32_MODEL.putIfAbsent(out, model);
        return out;
    }

    static boolean isFloatInit(Graph g, String name, int rank) {
        Tensor t = g.initializer(name).orElse(null);
        return t != null && t.dtype() == DType.FLOAT && t.rank() == rank;
    }

    /** Adds the INT8 version of initializer {@code w}; returns the names of {q, scale, zero point}. */
    private static String[] quantize(Graph g, String w, boolean perChannel, boolean pairwise) {
        Int8Weights q = Int8Weights.of(g.initializer(w).orElseThrow(), perChannel, pairwise);
        String[] names = {g.uniqueName(w + "_quantized"), g.uniqueName(w + "_scale"), g.uniqueName(w + "_zero_point")};
        g.initializers().put(names[0], q.q());
        g.initializers().put(names[1], q.scale());
        g.initializers().put(names[2], q.zeroPoint());
        return names;
    }

    /** The {@code Add(y, bias[N])} right after a MatMul that can be folded into it, or null. */
    private static Node foldableBias(Graph g, Node matmul, int n) {
        String y = matmul.output(0);
        List<Node> cons = g.consumers(y);
        if (cons.size() != 1 || g.isGraphOutput(y)) return null;
        Node add = cons.get(0);
        if (!add.opType().equals("Add") || !add.domain().isEmpty()) return null;
        String other = add.input(0).equals(y) ? add.input(1) : add.input(0);
        Tensor b = g.initializer(other).orElse(null);
        return b != null && b.dtype() == DType.FLOAT && b.rank() == 1 && b.dim(0) == n ? add : null;
    }
}
