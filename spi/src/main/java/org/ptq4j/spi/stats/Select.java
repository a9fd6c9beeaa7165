package org.ptq4j.spi.stats;

/** In-place selection (quickselect) of the k-th smallest value, O(n) on average. */
public final class Select {
    private Select() {}

    /** Partially reorders {@code a} and returns its k-th smallest element (0-based). */
    public static float kth(float[] a, int k) {
        int lo = 0, hi = a.length - 1;
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(42);
        while (lo < hi) {
            float pivot = a[lo + rnd.nextInt(hi - lo + 1)];
            int i = lo, j = hi;
            while (i <= j) {
                while (a[i] < pivot) i++;
                while (a[j] > pivot) j--;
                if (i <= j) { float t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
            }
            if (k <= j) hi = j;
            else if (k >= i) lo = i;
            else return a[k];
        }
        return a[k];
    }
}
