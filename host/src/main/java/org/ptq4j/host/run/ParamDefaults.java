package org.ptq4j.host.run;

import org.ptq4j.spi.PtqException;
import org.ptq4j.spi.param.ParamSpec;
import org.ptq4j.spi.param.ParamType;
import org.ptq4j.spi.param.Params;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/** Binds a value map to parameter declarations: defaults filled, nested maps bound, unknown keys rejected. */
public final class ParamDefaults {
    private ParamDefaults() {}

    @SuppressWarnings("unchecked")
    public static Params bind(List<ParamSpec> specs, Map<String, Object> values) {
        Map<String, ParamSpec> byName = new LinkedHashMap<>();
        for (ParamSpec s : specs) byName.put(s.name(), s);
        for (String k : values.keySet()) {
            if (!byName.containsKey(k))
                throw new PtqException("unknown parameter '" + k + "'; expected one of " + byName.keySet().stream().collect(Collectors.joining(", ")));
        }
        Map<String, Object> out = new LinkedHashMap<>();
        for (ParamSpec s : specs) {
            Object v = values.get(s.name());
            if (v instanceof Params p) v = p.asMap();
            if (s.type() == ParamType.MAP && !s.children().isEmpty()) {
                Map<String, Object> nested = v instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
                out.put(s.name(), bind(s.children(), nested));
                continue;
            }
            if (v == null) v = s.defaultValue();
            if (v == null && s.required()) throw new PtqException("parameter '" + s.name() + "' is required");
            if (v instanceof Number n && s.type() == ParamType.FLOAT) v = n.doubleValue();
            if (v instanceof Number n && s.type() == ParamType.INT) v = n.intValue();
            out.put(s.name(), v);
        }
        return new Params(out);
    }
}
