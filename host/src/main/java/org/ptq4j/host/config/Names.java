package org.ptq4j.host.config;

import java.util.Collection;
import java.util.Optional;

/** "Did you mean ...?": the closest valid name by Levenshtein distance. */
public final class Names {
    private Names() {}

    /** The candidate nearest to {@code given}, if it is close enough to be a plausible typo. */
    public static Optional<String> nearest(String given, Collection<String> candidates) {
        String best = null;
        int bestD = Integer.MAX_VALUE;
        for (String c : candidates) {
            int d = distance(given.toLowerCase(), c.toLowerCase());
            if (d < bestD) { bestD = d; best = c; }
        }
        return best != null && bestD <= Math.max(2, given.length() / 3) ? Optional.of(best) : Optional.empty();
    }

    /** "; did you mean 'x'?" or "; valid: a, b, c". */
    public static String hint(String given, Collection<String> candidates, String validLabel) {
        Optional<String> n = nearest(given, candidates);
        if (n.isPresent()) return "; did you mean '" + n.get() + "'?";
        return candidates.isEmpty() ? "" : "; " + validLabel + ": " + String.join(", ", candidates.stream().sorted().toList());
    }

    static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1], cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) prev[j] = j;
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(sub, Math.min(prev[j] + 1, cur[j - 1] + 1));
            }
            int[] t = prev; prev = cur; cur = t;
        }
        return prev[b.length()];
    }
}
