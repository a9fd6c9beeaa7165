package org.ptq4j.host.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Whether writing a file would touch an input: compared by real path (symbolic links resolved) and file identity (hard links). */
public final class OutputGuard {
    private OutputGuard() {}

    /** Why writing {@code output} would replace or land inside {@code input} (a phrase), or null when it would not. */
    public static String clash(Path output, Path input) {
        if (input == null || output == null) return null;
        Path out = real(output), in = real(input);
        if (out.equals(in)) return output.normalize().equals(input.normalize()) ? "is" : "is (through a link) the same file as";
        try {
            if (Files.exists(output) && Files.exists(input) && Files.isSameFile(output, input)) return "is (a hard link) the same file as";
        } catch (IOException ignored) {
            // unreadable: the real-path comparison above stands
        }
        if (Files.isDirectory(in) && out.startsWith(in)) return "lies inside";
        return null;
    }

    /** The real path of the longest existing prefix of {@code p}, with the rest appended. */
    static Path real(Path p) {
        Path abs = p.toAbsolutePath().normalize();
        for (Path head = abs; head != null; head = head.getParent()) {
            try {
                return head.toRealPath().resolve(head.relativize(abs)).normalize();
            } catch (IOException e) {
                // not there (yet): try the parent
            }
        }
        return abs;
    }
}
