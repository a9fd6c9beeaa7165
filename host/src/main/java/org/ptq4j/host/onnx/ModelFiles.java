package org.ptq4j.host.onnx;

import com.google.protobuf.CodedInputStream;
import org.ptq4j.host.onnx.proto.Onnx.GraphProto;
import org.ptq4j.host.onnx.proto.Onnx.ModelProto;
import org.ptq4j.host.onnx.proto.Onnx.StringStringEntryProto;
import org.ptq4j.host.onnx.proto.Onnx.TensorProto;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;

/** Sizes of ONNX models on disk: the model file plus every external data file its initializers name. */
public final class ModelFiles {
    private ModelFiles() {}

    /** Bytes of {@code model} and its external data files (0 when it cannot be read). */
    public static long bytes(Path model) {
        long total;
        try {
            total = Files.size(model);
        } catch (IOException e) {
            return 0;
        }
        Set<String> locations = new LinkedHashSet<>();
        try {
            // an external-data model's .onnx file is small; a big self-contained one has no external data to find
            if (total < 512L << 20) {
                CodedInputStream in = CodedInputStream.newInstance(Files.readAllBytes(model));
                in.setRecursionLimit(1000);
                ModelProto m = ModelProto.parseFrom(in);
                collect(m.getGraph(), locations);
            }
        } catch (IOException | RuntimeException e) {
            return total;
        }
        Path dir = model.toAbsolutePath().getParent();
        for (String loc : locations) {
            try { total += Files.size(dir.resolve(loc).normalize()); } catch (IOException | RuntimeException ignored) { }
        }
        return total;
    }

    private static void collect(GraphProto g, Set<String> locations) {
        for (TensorProto t : g.getInitializerList()) {
            if (t.getDataLocation() != TensorProto.DataLocation.EXTERNAL) continue;
            for (StringStringEntryProto e : t.getExternalDataList()) if (e.getKey().equals("location")) locations.add(e.getValue());
        }
        for (var n : g.getNodeList()) for (var a : n.getAttributeList()) {
            if (a.hasG()) collect(a.getG(), locations);
            for (GraphProto sub : a.getGraphsList()) collect(sub, locations);
        }
    }
}
