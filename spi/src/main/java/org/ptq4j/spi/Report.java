package org.ptq4j.spi;

import java.util.List;
import java.util.Map;

/**
 * The run summary. Steps add named sections of key/value facts (printed at the end of a run
 * and included in JSON output) and tables (rows of columns).
 */
public interface Report {
    /** Sets {@code key} to {@code value} in {@code section} (insertion order kept). */
    void put(String section, String key, Object value);

    /** Adds a row to a table named {@code table} in {@code section}. */
    void row(String section, String table, Map<String, Object> row);

    /** A free-text note in {@code section}. */
    void note(String section, String text);

    /** Everything added so far, section -> contents. */
    Map<String, Object> asMap();

    default void rows(String section, String table, List<Map<String, Object>> rows) {
        for (Map<String, Object> r : rows) row(section, table, r);
    }
}
