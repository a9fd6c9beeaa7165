package org.ptq4j.spi.model;

/** One dimension of a declared shape: a fixed size, a named symbol ({@code batch}), or unknown. */
public record Dim(long value, String param) {
    public static Dim of(long v) { return new Dim(v, null); }
    public static Dim named(String p) { return new Dim(-1, p); }
    public static Dim unknown() { return new Dim(-1, null); }
    public boolean isFixed() { return value >= 0; }
    @Override public String toString() { return isFixed() ? Long.toString(value) : param != null ? param : "?"; }
}
