package org.ptq4j.plugins.accuracyaware;

import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.ParamType;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * tune_hyperparams: the base parameters worth trying before reverting layers, found in the base's
 * own declarations: the {@code mixed} value of a {@code preset} choice, then every other preset of
 * each range estimator (a {@code preset} choice inside a map whose name mentions "estimator", e.g.
 * {@code activations.range_estimator.preset: quantile}), at any nesting depth.
 */
final class Tuning {
    private Tuning() {}

    /** Setting {@code value} at the key {@code path} (nested maps). */
    record Option(List<String> path, Object value) {
        Map<String, Object> applyTo(Map<String, Object> values) {
            Map<String, Object> v = Quantizer.plain(values), m = v;
            for (String k : path.subList(0, path.size() - 1)) {
                @SuppressWarnings("unchecked")
                Map<String, Object> child = m.get(k) instanceof Map<?, ?> c ? (Map<String, Object>) c : new java.util.LinkedHashMap<>();
                m.put(k, child);
                m = child;
            }
            m.put(path.get(path.size() - 1), value);
            return v;
        }

        @Override public String toString() { return String.join(".", path) + "=" + value; }
    }

    static List<Option> options(List<ParamSpec> specs, Map<String, Object> values) {
        List<Option> presets = new ArrayList<>(), estimators = new ArrayList<>();
        scan(specs, values, new ArrayList<>(), presets, estimators);
        presets.addAll(estimators);
        return presets;
    }

    @SuppressWarnings("unchecked")
    private static void scan(List<ParamSpec> specs, Map<String, Object> values, List<String> path,
                             List<Option> presets, List<Option> estimators) {
        for (ParamSpec s : specs) {
            List<String> p = new ArrayList<>(path);
            p.add(s.name());
            Object cur = values == null ? null : values.get(s.name());
            if (s.type() == ParamType.MAP && !s.children().isEmpty()) {
                scan(s.children(), cur instanceof Map<?, ?> m ? (Map<String, Object>) m : null, p, presets, estimators);
            } else if (s.type() == ParamType.ENUM) {
                Object now = cur != null ? cur : s.defaultValue() != null ? s.defaultValue() : s.choices().isEmpty() ? null : s.choices().get(0); // no default: the first choice
                if (!s.name().equals("preset")) continue;
                if (s.choices().contains("mixed") && !"mixed".equals(now)) presets.add(new Option(p, "mixed"));
                else if (path.stream().anyMatch(k -> k.contains("estimator")))
                    for (String c : s.choices()) if (!Objects.equals(c, now)) estimators.add(new Option(p, c));
            }
        }
    }
}
