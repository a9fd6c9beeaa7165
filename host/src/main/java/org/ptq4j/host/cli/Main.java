package org.ptq4j.host.cli;

import org.ptq4j.host.engine.OrtEngine;
import org.ptq4j.host.plugins.PluginLoader;
import org.ptq4j.spi.BudgetNotMetException;
import org.ptq4j.spi.CpuInfo;
import org.ptq4j.spi.PtqException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

import java.io.InputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.Function;

/**
 * The {@code ptq} command line. Exit codes: 0 success, 2 bad input (usage errors and
 * {@link PtqException}: printed without a stack trace), 1 internal failure.
 */
@Command(name = "ptq", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Post-training INT8 quantization of ONNX models.",
        subcommands = {QuantizeCommand.class, ValidateCommand.class, EvaluateCommand.class, BenchmarkCommand.class,
                PluginsCommand.class, SystemCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @Option(names = "--plugins-dir", scope = ScopeType.INHERIT, paramLabel = "DIR",
            description = "extra plugin folder (repeatable); also $PTQ_PLUGINS (':'-separated) and <ptq home>/plugins")
    List<Path> pluginDirs = new ArrayList<>();

    final PrintStream out;
    final PrintStream err;
    final Function<String, String> env;
    private final Function<List<Path>, PluginLoader.Result> loader;
    private PluginLoader.Result plugins;

    public Main(PrintStream out, PrintStream err, Function<String, String> env, Function<List<Path>, PluginLoader.Result> loader) {
        this.out = out;
        this.err = err;
        this.env = env;
        this.loader = loader;
    }

    /** Exit code of a run whose accuracy budget was not met (the best model found is still written). */
    public static final int EXIT_BUDGET_NOT_MET = 3;

    public static void main(String[] args) {
        int code = run(args, System.out, System.err, System::getenv, PluginLoader::load);
        System.exit(code);
    }

    /** Runs the CLI in-process; {@code loader} loads plugins from the given folders (tests inject their own). */
    public static int run(String[] args, PrintStream out, PrintStream err, Function<String, String> env,
                          Function<List<Path>, PluginLoader.Result> loader) {
        Main main = new Main(out, err, env, loader);
        CommandLine cl = new CommandLine(main);
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        cl.setExecutionExceptionHandler((ex, line, parsed) -> {
            if (ex instanceof BudgetNotMetException b) {
                err.println(String.format("error: accuracy budget not met: drop %.4f > maximal_drop %.4f: %s", b.achievedDrop(), b.maximalDrop(), b.getMessage()));
                return EXIT_BUDGET_NOT_MET;
            }
            if (ex instanceof PtqException) {
                err.println("error: " + ex.getMessage());
                return 2;
            }
            err.println("internal error: " + ex);
            ex.printStackTrace(err);
            return 1;
        });
        try {
            return cl.execute(args);
        } catch (Error e) {
            // picocli hands only Exceptions to the handler; a plugin's library can throw Errors (e.g. AssertionError)
            err.println("internal error: " + e);
            e.printStackTrace(err);
            return 1;
        } finally {
            main.close();
            out.flush();
            err.flush();
        }
    }

    @Override
    public void run() {
        new CommandLine(this).usage(out);
    }

    /** The installed plugins (loaded once); load failures are printed as warnings. */
    PluginLoader.Result plugins() {
        if (plugins == null) {
            plugins = loader.apply(PluginLoader.folders(pluginDirs, env));
            for (PluginLoader.Failure f : plugins.failures()) err.println("warning: " + f);
            for (String w : plugins.warnings()) err.println("warning: " + w);
        }
        return plugins;
    }

    private void close() {
        if (plugins != null) plugins.close();
    }

    /** Whether progress lines are redrawn in place. */
    static boolean tty() { return System.console() != null; }

    /** ptq version, from the host jar's Maven metadata. */
    public static String version() {
        try (InputStream in = Main.class.getResourceAsStream("/META-INF/maven/org.ptq4j/ptq4j-host/pom.properties")) {
            if (in != null) {
                Properties p = new Properties();
                p.load(in);
                return p.getProperty("version", "dev");
            }
        } catch (Exception ignored) {
            // fall through
        }
        String v = Main.class.getPackage().getImplementationVersion();
        return v != null ? v : "dev";
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override public String[] getVersion() {
            return new String[]{"ptq " + version(), "ONNX Runtime " + OrtEngine.version(), "Java " + System.getProperty("java.version"),
                    "CPU " + CpuInfo.host().describe()};
        }
    }

    /** "file not found: p", or for a FIFO, device or folder "not a regular file: p". */
    static String notAFile(Path p) {
        return (java.nio.file.Files.exists(p) ? "not a regular file: " : "file not found: ") + p;
    }

    /** Adds an error when a numeric option is outside [lo, hi] (the range of its YAML key). */
    static void range(List<org.ptq4j.host.config.ConfigError> errors, String option, long value, long lo, long hi) {
        if (value < lo || value > hi)
            errors.add(new org.ptq4j.host.config.ConfigError(option, 0, value + " is out of range [" + lo + ", " + (hi == Integer.MAX_VALUE ? "inf" : Long.toString(hi)) + "]"));
    }

    /** KEY=VALUE options typed as YAML scalars or flow lists ({@code 0.5} a number, {@code [1, 2]} a list), safely. */
    static Map<String, Object> typed(Map<String, String> raw) {
        Map<String, Object> r = new java.util.LinkedHashMap<>();
        var yaml = new org.yaml.snakeyaml.Yaml(new org.yaml.snakeyaml.constructor.SafeConstructor(new org.yaml.snakeyaml.LoaderOptions()));
        raw.forEach((k, v) -> {
            try {
                r.put(k, v == null || v.isEmpty() ? "" : yaml.load(v));
            } catch (RuntimeException e) {
                throw new PtqException(k + "=" + v + ": not a value (" + e.getMessage().lines().findFirst().orElse("") + ")");
            }
        });
        return r;
    }
}
