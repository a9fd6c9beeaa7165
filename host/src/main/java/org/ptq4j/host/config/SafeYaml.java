package org.ptq4j.host.config;

import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeId;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;
import org.yaml.snakeyaml.resolver.Resolver;

import java.io.IOException;
import java.io.Reader;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Safe YAML: the document is composed into a node tree (which keeps line numbers), never
 * constructed into arbitrary objects. Only the standard scalar/collection tags are accepted, so
 * {@code !!java.lang.Runtime} or any custom {@code !tag} is an error. Scalars expand
 * {@code ${ENV_VAR}} and {@code ${ENV_VAR:-default}}; an expanded scalar is typed again
 * ({@code threads: ${N}} is an integer). Inside a flow map ({@code {a: ...}}) write {@code "${N}"}:
 * YAML reads an unquoted <code>{</code> there as the start of a map.
 */
public final class SafeYaml {
    private static final Set<Tag> ALLOWED = Set.of(Tag.MAP, Tag.SEQ, Tag.STR, Tag.INT, Tag.FLOAT, Tag.BOOL, Tag.NULL);
    private static final Pattern VAR = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?}");

    /** Largest pipeline file read (bytes), and the composer's limit on characters. */
    static final int MAX_BYTES = 10 * 1024 * 1024;

    private final Function<String, String> env;
    private final Resolver resolver = new Resolver();
    private final Scalars scalars = new Scalars();

    public SafeYaml(Function<String, String> env) { this.env = env; }

    /** Composes the document in {@code file}; syntax errors and forbidden tags are added to {@code errors}. */
    public static Node parse(Path file, List<ConfigError> errors) {
        String text;
        try {
            long size = Files.size(file);
            if (size > MAX_BYTES) {
                errors.add(new ConfigError("", 0, file + " is " + size + " bytes; a pipeline file is at most " + MAX_BYTES / (1024 * 1024) + " MB"));
                return null;
            }
            text = Files.readString(file);
        } catch (IOException e) {
            errors.add(new ConfigError("", 0, "cannot read " + file + ": " + e.getMessage()));
            return null;
        }
        return parse(new StringReader(text), errors);
    }

    public static Node parse(Reader reader, List<ConfigError> errors) {
        LoaderOptions o = new LoaderOptions();
        o.setAllowDuplicateKeys(false);
        o.setAllowRecursiveKeys(false);
        o.setMaxAliasesForCollections(20);
        o.setCodePointLimit(MAX_BYTES);
        o.setTagInspector(tag -> true);   // let every tag through composition: checkTags rejects it with its key path
        try {
            Node root = new Yaml(new SafeConstructor(o)).compose(reader);
            if (root != null) checkTags(root, "", errors);
            return root;
        } catch (MarkedYAMLException e) {
            int line = e.getProblemMark() != null ? e.getProblemMark().getLine() + 1 : 0;
            errors.add(new ConfigError("", line, "invalid YAML: " + e.getProblem()));
        } catch (YAMLException e) {
            errors.add(new ConfigError("", 0, "invalid YAML: " + e.getMessage()));
        }
        return null;
    }

    private static void checkTags(Node n, String path, List<ConfigError> errors) {
        if (!ALLOWED.contains(n.getTag())) {
            errors.add(new ConfigError(path, line(n), "YAML tag '" + n.getTag().getValue() + "' is not allowed"
                    + " (only plain maps, lists, strings, numbers and booleans; tags that name Java classes are rejected)"));
            return;
        }
        if (n instanceof MappingNode m) {
            for (NodeTuple t : m.getValue()) {
                checkTags(t.getKeyNode(), path, errors);
                checkTags(t.getValueNode(), join(path, keyOf(t)), errors);
            }
        } else if (n instanceof SequenceNode s) {
            for (int i = 0; i < s.getValue().size(); i++) checkTags(s.getValue().get(i), path + "[" + i + "]", errors);
        }
    }

    /** 1-based line of a node. */
    public static int line(Node n) { return n == null || n.getStartMark() == null ? 0 : n.getStartMark().getLine() + 1; }

    public static String join(String path, String key) { return path.isEmpty() ? key : path + "." + key; }

    static String keyOf(NodeTuple t) {
        return t.getKeyNode() instanceof ScalarNode s ? s.getValue() : "<complex key>";
    }

    /** The entries of a mapping node by key, in file order. Non-scalar keys and duplicates are errors. */
    public Map<String, NodeTuple> entries(MappingNode m, String path, List<ConfigError> errors) {
        Map<String, NodeTuple> r = new LinkedHashMap<>();
        for (NodeTuple t : m.getValue()) {
            if (!(t.getKeyNode() instanceof ScalarNode)) {
                errors.add(new ConfigError(path, line(t.getKeyNode()), "keys must be plain strings"));
                continue;
            }
            String k = keyOf(t);
            if (r.put(k, t) != null) errors.add(new ConfigError(join(path, k), line(t.getKeyNode()), "duplicate key"));
        }
        return r;
    }

    /** A scalar node's value: String, Long/Integer/BigInteger, Double, Boolean or null, with ${VAR} expanded. */
    public Object scalar(ScalarNode s, String path, List<ConfigError> errors) {
        String v = s.getValue();
        if (s.getTag().equals(Tag.STR) || v.contains("${")) {
            String expanded = expand(v, path, line(s), errors);
            if (!expanded.equals(v)) {
                Tag t = resolver.resolve(NodeId.scalar, expanded, true);
                return scalars.construct(new ScalarNode(t, expanded, s.getStartMark(), s.getEndMark(), s.getScalarStyle()));
            }
            if (s.getTag().equals(Tag.STR)) return expanded;
        }
        return scalars.construct(s);
    }

    /** Any node as plain Java values (Map, List, scalars), ${VAR} expanded. */
    public Object plain(Node n, String path, List<ConfigError> errors) {
        if (n instanceof ScalarNode s) return scalar(s, path, errors);
        if (n instanceof SequenceNode q) {
            List<Object> l = new ArrayList<>();
            for (int i = 0; i < q.getValue().size(); i++) l.add(plain(q.getValue().get(i), path + "[" + i + "]", errors));
            return l;
        }
        Map<String, Object> m = new LinkedHashMap<>();
        for (var e : entries((MappingNode) n, path, errors).entrySet())
            m.put(e.getKey(), plain(e.getValue().getValueNode(), join(path, e.getKey()), errors));
        return m;
    }

    String expand(String v, String path, int line, List<ConfigError> errors) {
        Matcher m = VAR.matcher(v);
        StringBuilder sb = new StringBuilder();
        while (m.find()) {
            String val = env.apply(m.group(1));
            if (val == null) val = m.group(2);
            if (val == null) {
                errors.add(new ConfigError(path, line, "environment variable '" + m.group(1) + "' is not set (use ${" + m.group(1) + ":-default} for a default)"));
                val = "";
            }
            m.appendReplacement(sb, Matcher.quoteReplacement(val));
        }
        m.appendTail(sb);
        return sb.toString();
    }

    /** SnakeYAML's own safe scalar constructors (ints with underscores, hex, .inf, yes/no ...). */
    private static final class Scalars extends SafeConstructor {
        Scalars() { super(new LoaderOptions()); }

        Object construct(ScalarNode n) { return constructObject(n); }
    }
}
