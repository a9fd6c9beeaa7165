package org.ptq4j.host.cli;

import org.ptq4j.host.engine.OrtEngine;
import org.ptq4j.spi.CpuInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code ptq system}: versions and what this CPU offers ONNX Runtime's int8 kernels. */
@Command(name = "system", mixinStandardHelpOptions = true,
        description = {"Print versions and this CPU's int8 capabilities (x86: avx2, avx512bw, avx512_vnni, avx_vnni, amx_int8; arm64: asimddp, i8mm)",
                "and what they mean for a quantized model: whether INT8 is faster than FP32 here, whether 8-bit weights can saturate."})
final class SystemCommand implements Callable<Integer> {
    @ParentCommand Main main;

    @Option(names = "--json", description = "machine-readable output") boolean json;

    @Override
    public Integer call() {
        CpuInfo cpu = CpuInfo.host();
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("ptq", Main.version());
        doc.put("onnxruntime", OrtEngine.version());
        doc.put("java", System.getProperty("java.version"));
        doc.put("cpu", org.ptq4j.host.report.ReportDocs.cpu(cpu));
        if (json) {
            Output.json(main.out, doc);
            return 0;
        }
        main.out.println("ptq " + doc.get("ptq") + ", ONNX Runtime " + doc.get("onnxruntime") + ", Java " + doc.get("java"));
        main.out.println("cpu: " + cpu.model() + " (" + cpu.arch() + ")");
        main.out.println("int8 flags: " + (cpu.features().isEmpty() ? "none found" : String.join(" ", cpu.features())) + "  [" + cpu.source() + "]");
        main.out.println("int8 path: " + cpu.path() + ": " + cpu.path().summary());
        main.out.println("target_device HOST means here: " + (CpuInfo.targetSaturates("HOST")
                ? "CPU_NO_VNNI (weights on a grid whose int16 pair sums cannot saturate)" : "CPU_VNNI (full 8-bit weights)"));
        String slow = cpu.slowInt8Note(Double.NaN);
        if (slow != null) main.out.println("note: " + slow);
        return 0;
    }

}
