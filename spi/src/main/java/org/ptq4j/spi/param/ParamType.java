package org.ptq4j.spi.param;

/** Parameter value types. */
public enum ParamType {
    INT, FLOAT, BOOL, STRING, ENUM,
    /** A filesystem path, resolved against the pipeline file's folder. */
    PATH,
    /** A PATH, or a map of names to PATHs (e.g. model input -> file); every path is checked like a PATH. */
    PATHS,
    STRING_LIST, FLOAT_LIST,
    /** A nested map; declared children are validated recursively. */
    MAP,
    /** Anything YAML can express (no validation). */
    ANY
}
