package org.ptq4j.host.plugins;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/** The ptq version this host was built as ({@code project.version}, written into the jar at build time). */
public final class HostVersion {
    private static final String VERSION = read();

    private HostVersion() {}

    /** E.g. {@code 0.1.0-SNAPSHOT}; {@code 0.0.0} only if the build resource is missing. */
    public static String get() { return VERSION; }

    private static String read() {
        try (InputStream in = HostVersion.class.getResourceAsStream("/org/ptq4j/host/version.properties")) {
            if (in != null) {
                Properties p = new Properties();
                p.load(in);
                String v = p.getProperty("version");
                if (v != null && !v.isBlank() && !v.startsWith("${")) return v.trim();
            }
        } catch (IOException ignored) {
            // fall through
        }
        return "0.0.0";
    }
}
