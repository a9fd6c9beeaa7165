package org.ptq4j.host.run;

import org.ptq4j.spi.Report;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The run summary, kept in insertion order; thread-safe. */
public final class MapReport implements Report {
    private final Map<String, Map<String, Object>> sections = new LinkedHashMap<>();

    private Map<String, Object> section(String s) { return sections.computeIfAbsent(s, k -> new LinkedHashMap<>()); }

    @Override public synchronized void put(String section, String key, Object value) { section(section).put(key, value); }

    @Override
    @SuppressWarnings("unchecked")
    public synchronized void row(String section, String table, Map<String, Object> row) {
        ((List<Map<String, Object>>) section(section).computeIfAbsent(table, k -> new ArrayList<>())).add(new LinkedHashMap<>(row));
    }

    @Override
    @SuppressWarnings("unchecked")
    public synchronized void note(String section, String text) {
        ((List<String>) section(section).computeIfAbsent("notes", k -> new ArrayList<>())).add(text);
    }

    @Override
    public synchronized Map<String, Object> asMap() {
        Map<String, Object> copy = new LinkedHashMap<>();
        sections.forEach((k, v) -> copy.put(k, new LinkedHashMap<>(v)));
        return Collections.unmodifiableMap(copy);
    }
}
