package org.ptq4j.host.cli;

import org.ptq4j.host.pipeline.DatasetSelection;
import org.ptq4j.host.config.ConfigException;
import org.ptq4j.host.config.PipelineConfig;
import org.ptq4j.host.config.PipelineConfigLoader;
import org.ptq4j.host.onnx.OnnxIO;
import org.ptq4j.host.pipeline.PipelineRunner;
import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.data.Dataset;
import org.ptq4j.spi.model.Model;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code ptq validate -c pipeline.yaml}: every check short of running (config, model, datasets, metric). */
@Command(name = "validate", mixinStandardHelpOptions = true,
        description = "Check a pipeline without running it: keys, types, ranges, plugin names, files; reads the model and opens the datasets and the metric. Fails when an installed plugin did not load.")
final class ValidateCommand implements Callable<Integer> {
    @ParentCommand Main main;

    @Option(names = {"-c", "--config"}, required = true, paramLabel = "YAML", description = "pipeline file") Path config;

    @Override
    public Integer call() {
        PipelineConfig cfg = new PipelineConfigLoader(main.plugins().registry(), main.env).load(config);
        // the installation is part of what a run needs: a plugin that did not load (missing or wrong-version
        // plugin dependency, unmet Plugin-Requires, no Plugin-Id, ...) fails validation
        var failed = main.plugins().failures();
        if (!failed.isEmpty())
            throw new PtqException(failed.size() + (failed.size() == 1 ? " plugin" : " plugins") + " did not load (fix or remove them):\n  "
                    + String.join("\n  ", failed.stream().map(Object::toString).toList()));
        // the config is valid; now every check that needs the files, each problem reported, all at once
        List<String> problems = new ArrayList<>();
        Model model;
        try {
            model = OnnxIO.read(cfg.model());
        } catch (PtqException e) {
            throw new PtqException(cfg.file() + ": model: " + e.getMessage(), e);
        }
        try {
            PipelineRunner.checkOutput(cfg, model);        // the model's external-data files are inputs too
        } catch (ConfigException e) {
            for (var error : e.errors()) problems.add(error.toString());
        }
        StringBuilder sb = new StringBuilder();
        for (var d : cfg.datasets().values()) {
            try (Dataset ds = DatasetSelection.open(d, PipelineRunner.datasetContext(model, cfg))) {
                if (ds.size() > 0) ds.get(0);
                sb.append(", ").append(d.role()).append(": ").append(ds.size()).append(" samples");
            } catch (PtqException e) {
                problems.add("datasets." + d.role() + ": " + e.getMessage());
            }
        }
        try {
            if (cfg.metric() != null) cfg.metric().factory().create(cfg.metric().params(), PipelineRunner.metricContext(model, cfg));
        } catch (PtqException e) {
            problems.add("metric: " + e.getMessage());
        }
        if (!problems.isEmpty())
            throw new PtqException(cfg.file() + ": " + problems.size() + (problems.size() == 1 ? " error" : " errors") + "\n  " + String.join("\n  ", problems));
        main.out.println("OK: " + cfg.file() + ": " + cfg.steps().size() + (cfg.steps().size() == 1 ? " step" : " steps")
                + " (" + String.join(" -> ", cfg.steps().stream().map(s -> s.algorithm().name()).toList()) + ")" + sb);
        return 0;
    }
}
